"""Which exercises a learner has passed, remembered across sessions in a small JSON file.

The file is ``$MINIDL_PROGRESS`` when that variable is set, else ``~/.minidl/progress.json``;
it is rewritten atomically (a temporary file renamed over it) after every new pass.
"""
import datetime
import json
import os
import tempfile
import warnings
from pathlib import Path

PROGRESS_VARIABLE = "MINIDL_PROGRESS"


def progress_file():
    """Where passes are remembered: ``$MINIDL_PROGRESS`` or ``~/.minidl/progress.json``."""
    return Path(os.environ.get(PROGRESS_VARIABLE) or Path.home() / ".minidl" / "progress.json")


def passed_exercises():
    """``{exercise name: date it was first passed}`` from the progress file (empty if none)."""
    path = progress_file()
    if not path.is_file():
        return {}
    try:
        return dict(json.loads(path.read_text())["passed"])
    except (ValueError, KeyError, TypeError) as error:
        warnings.warn(f"progress: ignoring the unreadable progress file {path} ({error})")
        return {}


def record_pass(name):
    """Remember that exercise ``name`` passed (keeping the date of its first pass)."""
    passed = passed_exercises()
    if name in passed:
        return
    passed[name] = datetime.date.today().isoformat()
    path = progress_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as file:
            json.dump({"passed": passed}, file, indent=1, sort_keys=True)
        os.replace(file.name, path)
    except OSError as error:
        warnings.warn(f"progress: could not save to {path} ({error}); set {PROGRESS_VARIABLE} to a writable file")


def progress(exercises):
    """Print each exercise of ``exercises`` (name -> Exercise), tutorial by tutorial, with whether
    it has passed; return ``{name: passed}``."""
    passed = passed_exercises()
    status = {name: name in passed for name in exercises}
    print(f"{sum(status.values())} of {len(status)} exercises passed (saved in {progress_file()})")
    for exercise in sorted(exercises.values(), key=lambda e: e.tutorial):
        mark = f"passed {passed[exercise.name]}" if status[exercise.name] else "not yet"
        print(f"  tutorial {exercise.tutorial:<14} {exercise.name:<32} {mark}")
    return status
