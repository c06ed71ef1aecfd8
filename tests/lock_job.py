"""A process that takes folder locks on command, for the lock's chaos tests: ``python lock_job.py``.

Reads one command per line on stdin and answers each with one JSON line on stdout:

- ``race FOLDER START``: release the lock held so far; at ``time.monotonic() == START`` (shared by the processes
  of one machine) try to take FOLDER. A winner creates ``FOLDER/witness`` with ``O_EXCL`` while it holds the lock:
  a second holder at the same time cannot, and says ``double``. Answers ``won``, ``double`` or ``refused``;
- ``hold FOLDER``: take FOLDER (``held``, or ``refused``);
- ``verify``: ``FolderLock.verify`` of the lock held (``ok``, or ``lost`` with the message);
- ``release``: release it (``released``, with the warnings it gave);
- ``exit``.
"""

import json
import os
import signal
import sys
import time
import warnings
from pathlib import Path

from dpipe_lightning._lock import FolderInUseError, FolderLock, FolderLockLostError


def answer(**fields):
    print(json.dumps({'pid': os.getpid(), **fields}), flush=True)


def release(lock):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        lock.release()
    return [str(warning.message) for warning in caught]


def take(folder):
    lock = FolderLock(Path(folder), 'checkpoints_path')
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        lock.acquire()
    return lock, [str(warning.message) for warning in caught]


def race(folder, start):
    while time.monotonic() < start:
        pass
    try:
        lock, said = take(folder)
    except FolderInUseError as error:
        return None, {'outcome': 'refused', 'message': str(error)}
    try:
        os.close(os.open(Path(folder) / 'witness', os.O_CREAT | os.O_EXCL | os.O_WRONLY))
    except FileExistsError:
        return lock, {'outcome': 'double'}
    lock.verify()
    return lock, {'outcome': 'won', 'warnings': said}


def main():
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # the test ends this process by closing stdin or SIGKILL
    lock = None
    for line in sys.stdin:
        command, *arguments = line.split()
        if command in ('race', 'hold', 'release', 'exit'):
            said = release(lock) if lock is not None else []
            lock = None
            if command == 'release':
                answer(outcome='released', warnings=said)
        if command == 'race':
            lock, result = race(arguments[0], float(arguments[1]))
            answer(**result)
        elif command == 'hold':
            try:
                lock, said = take(arguments[0])
                answer(outcome='held', warnings=said)
            except FolderInUseError as error:
                answer(outcome='refused', message=str(error))
        elif command == 'verify':
            try:
                lock.verify()
                answer(outcome='ok')
            except FolderLockLostError as error:
                answer(outcome='lost', message=str(error))
        elif command == 'exit':
            return


if __name__ == '__main__':
    main()
