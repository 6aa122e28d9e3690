"""``get_file``: download a file once into Keras's cache, check it, and give back its path.

    path = get_file("mnist.npz", "https://storage.googleapis.com/tensorflow/tf-keras-datasets/mnist.npz",
                    file_hash="731c5ac602752760c8e48fbffcf8c3b850d9dc2a2aedcf2cc48468fc17b673d1")
    # -> ~/.keras/datasets/mnist.npz, fetched on the first call only

The cache is Keras's own (``$KERAS_HOME``, else ``~/.keras``), so a file a user already has from
Keras is found and not fetched again.  A download goes to a temporary file next to its target, is
checked against its length and published hash, and only then renamed into place: an interrupted
or corrupt transfer never leaves a file that a later call would trust.
"""
import hashlib
import http.client
import os
import shutil
import tarfile
import tempfile
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

from tqdm import tqdm

HASH_LENGTHS = {"sha256": 64, "md5": 32}  # hex digits of each digest
ARCHIVE_FORMATS = ("tar", "zip")
CHUNK_BYTES = 1 << 16
TIMEOUT_S = 60  # a silent server fails the download instead of hanging it


class DownloadError(OSError):
    """A file that could not be fetched; the message names the file, its URL and where to put it by hand."""


def get_file(fname=None, origin=None, untar=False, md5_hash=None, file_hash=None, cache_subdir="datasets",
             hash_algorithm="auto", extract=False, archive_format="auto", cache_dir=None, force_download=False):
    """The path of ``fname`` in ``cache_dir/cache_subdir``, downloaded from ``origin`` if it is not
    there yet (or does not match ``file_hash``, or ``force_download``).

    ``file_hash`` is the published sha256 (64 hex digits) or md5 (32) of the file; with
    ``hash_algorithm="auto"`` its length says which.  ``cache_dir`` defaults to ``$KERAS_HOME``,
    else ``~/.keras``; an absolute ``cache_subdir`` is used as it is.  With ``extract=True``
    (``untar`` is its old name) a tar or zip archive is unpacked and the folder's path returned:
    ``datasets/name_extracted`` for ``fname="name.tar.gz"``, ``datasets/name`` for an
    ``fname`` without a dot (the archive itself is kept as ``datasets/name_archive``).

    Raises ``DownloadError`` when the file cannot be fetched (offline, HTTP error, cut short),
    ``ValueError`` for a hash mismatch or an archive it cannot unpack; nothing is left in the
    cache then.
    """
    if origin is None:
        raise ValueError("get_file: expected origin, the URL of the file to download; received None")
    if md5_hash is not None and file_hash is None:
        file_hash, hash_algorithm = md5_hash, "md5"
    algorithm = _hash_algorithm(file_hash, hash_algorithm)
    datadir = Path(os.path.expanduser(cache_dir or os.environ.get("KERAS_HOME") or "~/.keras")) / cache_subdir
    datadir.mkdir(parents=True, exist_ok=True)
    target, extraction_dir = _targets(datadir, fname, origin, extract or untar)
    downloaded = force_download or not _cached(target, file_hash, algorithm)
    if downloaded:
        _download(origin, target, file_hash, algorithm)
    if extraction_dir is None:
        return str(target)
    if downloaded or not extraction_dir.is_dir():
        _extract(target, extraction_dir, "tar" if untar else archive_format)
    return str(extraction_dir)


def _hash_algorithm(file_hash, hash_algorithm):
    """"sha256" or "md5" for ``file_hash`` (None without one); ValueError for a malformed hash."""
    if hash_algorithm not in ("auto", *HASH_LENGTHS):
        raise ValueError(f"get_file: hash_algorithm must be 'auto', 'sha256' or 'md5'; received {hash_algorithm!r}")
    if file_hash is None:
        return None
    digits = str(file_hash)
    algorithm = hash_algorithm
    if algorithm == "auto":
        algorithm = "sha256" if len(digits) == HASH_LENGTHS["sha256"] else "md5"
    is_hex = all(c in "0123456789abcdefABCDEF" for c in digits)
    if len(digits) != HASH_LENGTHS[algorithm] or not is_hex:
        raise ValueError(
            f"get_file: file_hash must be a hex digest, 64 digits for sha256 or 32 for md5 "
            f"(hash_algorithm={hash_algorithm!r}); received {file_hash!r} ({len(digits)} characters)"
        )
    return algorithm


def _targets(datadir, fname, origin, extract):
    """Where the download goes and, with ``extract``, the folder it unpacks into (Keras's names)."""
    provided = bool(fname)
    fname = os.fspath(fname) if provided else os.path.basename(urllib.parse.urlsplit(origin).path)
    if not fname:
        raise ValueError(f"get_file: cannot take a file name from origin {origin!r}; pass fname")
    if os.sep in fname or "/" in fname:
        raise ValueError(f"get_file: fname must be a file name, not a path (use cache_dir); received {fname!r}")
    if not extract:
        return datadir / fname, None
    if provided and "." in fname:
        return datadir / fname, datadir / f"{fname[:fname.find('.')]}_extracted"
    return datadir / f"{fname}_archive", datadir / fname


def _cached(target, file_hash, algorithm):
    """Whether ``target`` is in the cache and, given a hash, matches it (else it is fetched again)."""
    if not target.is_file():
        return False
    if file_hash is None or hash_file(target, algorithm) == file_hash.lower():
        return True
    print(f"A local file {target} was found, but its {algorithm} hash does not match {file_hash}: "
          "it is incomplete or outdated, so it will be downloaded again.")
    return False


def hash_file(path, algorithm="sha256"):
    """The hex digest (lower case) of the file at ``path``, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as file:
        while chunk := file.read(CHUNK_BYTES):
            digest.update(chunk)
    return digest.hexdigest()


def _download(origin, target, file_hash, algorithm):
    """Fetch ``origin`` into a temporary file beside ``target``, check it, then rename it into place."""
    print(f"Downloading data from {origin}")
    part = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=".part", delete=False)
    try:
        with part:
            _fetch(origin, part, target)
        if file_hash is not None:
            _check_hash(part.name, file_hash, algorithm, f"the download of {target.name} from {origin}")
        os.replace(part.name, target)
    except BaseException:  # KeyboardInterrupt too: never leave a partial file behind
        os.unlink(part.name)
        raise


def _check_hash(path, file_hash, algorithm, what):
    """ValueError naming ``what`` when the file at ``path`` does not have the hash ``file_hash``."""
    found = hash_file(path, algorithm)
    if found != file_hash.lower():
        raise ValueError(f"get_file: {what} is incomplete or corrupted: its {algorithm} hash is {found}, "
                         f"expected {file_hash}; nothing was saved")


def _fetch(origin, out, target):
    """Copy the bytes at ``origin`` into the open file ``out`` under a tqdm bar; DownloadError when
    the server cannot be reached or sends fewer bytes than its Content-Length."""
    by_hand = f"download it by other means and put it at {target}"
    try:
        with urllib.request.urlopen(origin, timeout=TIMEOUT_S) as response:
            length = response.headers.get("Content-Length")
            expected = int(length) if length is not None else None
            received = 0
            with tqdm(total=expected, unit="B", unit_scale=True, unit_divisor=1024, desc=target.name) as bar:
                while chunk := response.read(CHUNK_BYTES):
                    out.write(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
    except (OSError, http.client.HTTPException) as err:  # urllib's URLError and HTTPError are OSErrors
        raise DownloadError(
            f"get_file: cannot download {target.name} from {origin} ({err}). If this machine is offline, "
            f"{by_hand}"
        ) from err
    if expected is not None and received != expected:
        raise DownloadError(
            f"get_file: the download of {target.name} from {origin} stopped after {received} of {expected} "
            f"bytes; nothing was saved. Try again, or {by_hand}"
        )


def _extract(archive, directory, archive_format):
    """Unpack the tar or zip file ``archive`` into a temporary folder, then rename it to ``directory``."""
    formats = list(ARCHIVE_FORMATS) if archive_format == "auto" else [archive_format] if archive_format else []
    unknown = [f for f in formats if f not in ARCHIVE_FORMATS]
    if unknown:
        raise ValueError(f"get_file: archive_format must be 'auto', 'tar', 'zip' or None; received {archive_format!r}")
    if "tar" in formats and tarfile.is_tarfile(archive):
        opener, members = tarfile.open, _tar_members
    elif "zip" in formats and zipfile.is_zipfile(archive):
        opener, members = zipfile.ZipFile, _zip_members
    else:
        raise ValueError(f"get_file: cannot extract {archive}: it is not a {' or '.join(formats) or 'known'} archive "
                         f"(archive_format={archive_format!r}); expected a .tar, .tar.gz, .tar.bz2 or .zip file")
    unpacked = Path(tempfile.mkdtemp(dir=directory.parent, prefix=f".{directory.name}.", suffix=".part"))
    try:
        with opener(archive) as opened:
            opened.extractall(unpacked, members=members(opened, archive))
        if directory.exists():
            shutil.rmtree(directory)
        os.replace(unpacked, directory)
    except BaseException:
        shutil.rmtree(unpacked, ignore_errors=True)
        raise


def _tar_members(tar, archive):
    """The members of ``tar``, refusing links, devices and paths that leave the folder."""
    members = tar.getmembers()
    for member in members:
        if not (member.isfile() or member.isdir()):
            raise ValueError(f"get_file: {archive} holds {member.name!r}, a link or device; refusing to extract it")
        _check_inside(member.name, archive)
    return members


def _zip_members(zip_file, archive):
    """The members of ``zip_file``, refusing paths that leave the folder."""
    members = zip_file.infolist()
    for member in members:
        _check_inside(member.filename, archive)
    return members


def _check_inside(name, archive):
    """ValueError for an archive member named by an absolute path or one with ``..`` in it."""
    path = Path(name)
    if path.is_absolute() or ".." in path.parts:
        raise ValueError(f"get_file: {archive} holds {name!r}, a path outside its folder; refusing to extract it")
