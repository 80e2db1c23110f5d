# idmirror — see README.md.
GO         ?= go
STACK      := deploy/local/stack.sh
WITH_STACK := deploy/local/with-stack.sh
BIN        := .local/bin
PKGS       := ./...

.PHONY: all test check lint unit demo up down env install tools build package

# The Lambda functions: template logical id = cmd/ directory.
LAMBDAS := PostConfirmationFunction=postconfirm PreTokenFunction=pretoken ReconcileFunction=reconcile \
           RefreshFunction=refresh EverydayFunction=backoffice PersonalDataFunction=backoffice \
           AuthorizerFunction=authorizer DrillFunction=drill
LAMBDA_BUILD = GOOS=linux GOARCH=arm64 CGO_ENABLED=0 $(GO) build -tags lambda.norpc -trimpath -ldflags='-s -w' -buildvcs=false

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
	$(GO) mod tidy -diff
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

## make build: cross-compile every Lambda (linux/arm64, provided.al2023) into dist/<cmd>/bootstrap.
build:
	@for m in $(sort $(foreach l,$(LAMBDAS),$(word 2,$(subst =, ,$(l))))); do \
	  $(LAMBDA_BUILD) -o dist/$$m/bootstrap ./cmd/$$m || exit 1; \
	  printf '%-12s %8d bytes\n' $$m $$(stat -c %s dist/$$m/bootstrap); \
	done

## make package: one zip per Lambda in dist/.
package: build
	@for d in dist/*/; do m=$$(basename $$d); \
	  $(GO) run ./deploy/tools/lambdazip -o dist/$$m.zip dist/$$m/bootstrap || exit 1; \
	  printf '%-16s %8d bytes\n' $$m.zip $$(stat -c %s dist/$$m.zip); \
	done

# sam build (BuildMethod: makefile) runs `make build-<LogicalId> ARTIFACTS_DIR=<dir>` from CodeUri (the repository root).
define sam_target
build-$(word 1,$(subst =, ,$(1))):
	$$(LAMBDA_BUILD) -o $$(ARTIFACTS_DIR)/bootstrap ./cmd/$(word 2,$(subst =, ,$(1)))
endef
$(foreach l,$(LAMBDAS),$(eval $(call sam_target,$(l))))
