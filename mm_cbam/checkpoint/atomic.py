"""Atomic local writes: a crash during a save never leaves a half-written file.

mmengine's local file backend (checkpoints, dumped configs, JSON results) opens the target and
writes into it, so a crash during a checkpoint save leaves a truncated ``epoch_N.pth``.
:func:`atomic_local_writes` makes it write a temporary file in the same directory, flush it to
disk and rename it over the target (an atomic replace on POSIX and Windows): the target is either
the old file or the complete new one.
"""
import os
import os.path as osp
import tempfile


def _file_mode() -> int:
    """The mode ``open(..., 'w')`` gives new files (0o666 minus the umask)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(data: bytes, filepath: str) -> None:
    """Write ``data`` to ``filepath`` through a temporary file and an atomic rename (the file
    gets the permissions a plain ``open`` would give it)."""
    directory = osp.dirname(osp.abspath(filepath))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f'.{osp.basename(filepath)}.', suffix='.tmp', dir=directory)
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _file_mode())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


def atomic_local_writes() -> None:
    """Make mmengine's LocalBackend ``put`` / ``put_text`` write atomically."""
    from mmengine.fileio.backends.local_backend import LocalBackend

    def put(self, obj: bytes, filepath) -> None:
        atomic_write_bytes(obj, str(filepath))

    def put_text(self, obj: str, filepath, encoding: str = 'utf-8') -> None:
        atomic_write_bytes(obj.encode(encoding), str(filepath))

    put.__doc__ = 'Write bytes to ``filepath`` atomically (mm_cbam.compat).'
    put_text.__doc__ = 'Write text to ``filepath`` atomically (mm_cbam.compat).'
    LocalBackend.put = put
    LocalBackend.put_text = put_text
