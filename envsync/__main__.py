"""The `envsync` command, and `python -m envsync`."""


def main() -> None:
    """Run the command, its dataclasses' methods compiled once per Python build rather than at
    every run (envsync/dataclass_code.py): installed before the first envsync module is imported."""
    from envsync import dataclass_code

    dataclass_code.install()
    from envsync.cli import run

    run()


if __name__ == "__main__":
    main()
