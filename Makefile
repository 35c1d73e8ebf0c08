# The two commands: `make demo` runs the main job, `make test` runs the tests.
# Both set up .venv first (scripts/setup.sh: seconds when nothing changed).
PY := .venv/bin/python

.PHONY: setup demo test bench clean

setup:
	@bash scripts/setup.sh

demo: setup
	$(PY) scripts/demo.py

test: setup
	$(PY) -m pytest -q

# Every CPU benchmark; bench/gpu_models.py needs a GPU (or --cpu-smoke) and is run by hand.
bench: setup
	@for b in $(filter-out bench/gpu_models.py,$(wildcard bench/*.py)); do echo "== $$b"; $(PY) $$b || exit 1; done

clean:
	rm -rf build .venv
