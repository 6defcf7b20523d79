"""`python -m looprl ...` is the `looprl` command; launchers need it (`accelerate launch -m looprl train ...`)."""

from looprl.cli import main

main()
