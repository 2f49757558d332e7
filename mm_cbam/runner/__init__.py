"""What ``mm_cbam.train`` / ``mm_cbam.test`` need around mmengine's Runner: config loading and
preparation (:mod:`.config`, with the old-path table :mod:`.renames`), checks of the files a
run reads (:mod:`.file_checks`), CPU-distributed launch (:mod:`.launch`), the names of the files
a run writes (:mod:`.run_files`) and the command-line conventions (:mod:`.cli`)."""
