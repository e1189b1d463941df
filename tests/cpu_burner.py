"""A confined child for tests/test_confinement.py that starts two processes, each in a
process group of its own (as docclean starts mat2 and ffmpeg), which burn CPU until
they are killed: alone, each would run until its own RLIMIT_CPU.

    python -m tests.cpu_burner MEMORY_BYTES CPU_SECONDS FILE_BYTES
"""

import subprocess
import sys

from sipadu.evidence.confinement import Confinement, confine


def main() -> None:
    confine(Confinement.from_argv(sys.argv[1:]))
    burners = [
        subprocess.Popen([sys.executable, "-c", "while True: pass"], process_group=0)
        for _ in range(2)
    ]
    for burner in burners:
        burner.wait()


if __name__ == "__main__":
    main()
