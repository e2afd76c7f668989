from lenet5.cli import main

# Guarded: data-parallel workers (multiprocessing's spawn) import this module again.
if __name__ == "__main__":
    raise SystemExit(main())
