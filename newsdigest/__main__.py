from newsdigest.cli import run

run()
