"""Offline stand-in for the get-pip script that ansible-test downloads to bootstrap pip in its virtualenvs.

scripts/bootstrap.sh installs it as ``~/.ansible/test/cache/get_pip_<version>.py``, where ansible-test looks for a
cached copy before downloading. ansible-test runs it as ``__main__`` with pip-install arguments (options and the pinned
packages, e.g. ``pip==24.2``). We run CPython's own bundled pip wheel (``ensurepip/_bundled``) and let it install the
pinned packages from the package index this machine reaches, which is what the real script does.
"""
import glob
import os
import sys


def main():
    import ensurepip

    wheels = sorted(glob.glob(os.path.join(os.path.dirname(ensurepip.__file__), "_bundled", "pip-*.whl")))
    if not wheels:
        sys.stderr.write("get-pip stand-in: this Python has no bundled pip wheel under ensurepip/_bundled\n")
        return 1
    sys.path.insert(0, wheels[-1])
    from pip._internal.cli.main import main as pip_main  # pylint: disable=import-outside-toplevel

    args = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    return pip_main(["install", "--upgrade", "--force-reinstall"] + args)


if __name__ == "__main__":
    sys.exit(main())
