# idmirror — see README.md.
GO         ?= go
STACK      := deploy/local/stack.sh
WITH_STACK := deploy/local/with-stack.sh
BIN        := .local/bin
PKGS       := ./...

.PHONY: all test check lint unit demo up down env install tools

all: lint

## make test: install what is missing, start the local stack, lint, run every test with -race, stop the stack.
test:
	$(WITH_STACK) $(MAKE) --no-print-directory check

## make check: lint and test against an already running stack (eval "$$(deploy/local/stack.sh env)").
check: lint
	IDMIRROR_REQUIRE_EMULATORS=1 $(GO) test -race -count=1 -timeout 20m $(PKGS)

lint: tools
	@out=$$(gofmt -l $$(git ls-files '*.go') $$(git ls-files --others --exclude-standard '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)
	$(BIN)/staticcheck $(PKGS)

tools:
	@$(STACK) install

## make demo: the main job end to end on the local stack.
demo:
	$(GO) build -o $(BIN)/idmirror ./cmd/idmirror
	IDMIRROR_BIN=$(CURDIR)/$(BIN)/idmirror $(WITH_STACK) $(GO) run ./cmd/idmirror-demo

up:
	$(STACK) up
down:
	$(STACK) down
env:
	@$(STACK) env
