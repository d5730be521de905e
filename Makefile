# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck pytest bench benchmark messages clean

install: $(VENV)/.installed

# torch first, pinned: pip then takes the CPU build that lies on this machine's disk instead of
# pulling several GB of CUDA wheels for the embedding model.
$(VENV)/.installed: pyproject.toml
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py collectstatic --noinput --verbosity 0
	$(PY) manage.py demo
	@echo ""
	@echo "Console:      http://$(HOST):$(PORT)/   (sign in with a login above)"
	@echo "Chat:         http://$(HOST):$(PORT)/chat/demo/   (the demo workspace's customer chat)"
	@echo "Health:       http://$(HOST):$(PORT)/healthz"
	@echo "API schema:   http://$(HOST):$(PORT)/api/v1/schema/"
	@echo ""
	$(PY) manage.py runserver $(HOST):$(PORT)

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy .

pytest: install
	$(VENV)/bin/pytest

test: lint typecheck pytest

bench benchmark: install
	$(VENV)/bin/pytest tests/benchmarks -q

# What the AI says to customers is English msgids translated in routing/locale/. Run this after
# changing such a text: it extracts the routing app's msgids into the .po files (from inside the
# app, so no other app's or package's strings land there), then compiles the .mo files, which are
# committed so a checkout works without gettext. Translate new or fuzzy entries, then run it again.
MESSAGE_LANGUAGES := -l pt -l es -l fr -l de

messages: install
	cd routing && ../$(PY) ../manage.py makemessages $(MESSAGE_LANGUAGES) --add-location file --no-obsolete
	cd routing && ../$(PY) ../manage.py compilemessages $(MESSAGE_LANGUAGES)

clean:
	rm -rf $(VENV) var/static
