"""``python -m wavedil``: the same command line as the ``wavedil`` script."""

from wavedil.cli.main import main

if __name__ == "__main__":
    main()
