# bt86 - build, test, benchmark.  See README.md.
# `make` builds ./bt86; `make test` runs every test; `make asan` builds an
# AddressSanitizer/UBSan variant (./bt86-asan) and runs the unit and CPU tests.
# Missing Debian packages are installed by scripts/deps.sh (apt-get).

CC      ?= cc
OPT     ?= -O2
CFLAGS  ?= $(OPT) -g
CFLAGS  += -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -I. -MMD -MP $(EXTRA_CFLAGS)
BIN     ?= bt86
LDLIBS  += -lcapstone -lz -lm -lpthread -lutil $(shell pkg-config --libs sdl2 2>/dev/null)
SDLCFLAGS := $(shell pkg-config --cflags sdl2 2>/dev/null)
B       ?= build

LIBSRC  := $(filter-out monitor/main.c,$(wildcard cpu/*.c mem/*.c devices/*.c translator/*.c monitor/*.c))
LIBOBJ  := $(LIBSRC:%.c=$(B)/%.o)
UNITSRC := $(wildcard tests/unit/test_*.c)
UNITBIN := $(UNITSRC:tests/unit/%.c=$(B)/tests/%)
BIOSSRC := $(wildcard bios/*.asm bios/*.inc)
BENCHSRC := $(wildcard bench/*.c)
BENCHBIN := $(BENCHSRC:bench/%.c=$(B)/bench/%)

.PHONY: all deps test asan clean bench bench-bin unit guest run diff-long
all: $(BIN)

DEPS_STAMP := $(B)/.deps-ok
$(DEPS_STAMP): scripts/deps.sh
	@mkdir -p $(B)
	@sh scripts/deps.sh
	@touch $@
deps:
	@sh scripts/deps.sh

$(B)/%.o: %.c | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SDLCFLAGS) -c $< -o $@

# our BIOS: assembled with nasm, embedded with .incbin (monitor/bios_image.c)
$(B)/bios/bios.bin: $(BIOSSRC) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	nasm -f bin -I bios/ -o $@ bios/bios.asm
$(B)/monitor/bios_image.o: CFLAGS += -DBIOS_BIN='"$(B)/bios/bios.bin"'
$(B)/monitor/bios_image.o: $(B)/bios/bios.bin

$(B)/libbt86.a: $(LIBOBJ)
	@rm -f $@
	ar rcs $@ $^

$(BIN): $(B)/monitor/main.o $(B)/libbt86.a
	$(CC) $(CFLAGS) -o $@ $^ $(LDLIBS)

$(B)/tests/%: tests/unit/%.c $(B)/libbt86.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SDLCFLAGS) -o $@ $< $(B)/libbt86.a $(LDLIBS)

unit: $(UNITBIN)

$(B)/bench/%: bench/%.c $(B)/libbt86.a | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(SDLCFLAGS) -o $@ $< $(B)/libbt86.a $(LDLIBS)

bench-bin: $(BENCHBIN)

# The README's test command. Ends with "N passed, N failed".
test: $(BIN) $(UNITBIN) $(BENCHBIN)
	@echo "building the reference guest (scripts/make-guest.sh; log in build/guest-build.log)"
	@mkdir -p build && (bash scripts/make-guest.sh > build/guest-build.log 2>&1 || \
	  echo "the reference guest could not be built: the boot tests will SKIP ($$(tail -1 build/guest-build.log))")
	@sh tests/run.sh $(B)

# AddressSanitizer + UBSan build of everything into build-asan/ and ./bt86-asan,
# then the unit and CPU tests with it.
ASAN_FLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
asan:
	$(MAKE) B=build-asan BIN=bt86-asan OPT=-O1 EXTRA_CFLAGS="$(ASAN_FLAGS)" bt86-asan unit
	ASAN=1 ASAN_OPTIONS=detect_leaks=0 sh tests/run.sh build-asan --quick

# the reference guest from Debian's archive (scripts/make-guest.sh, build/guest/)
guest:
	@bash scripts/make-guest.sh

# the README's main command: boot the reference guest (kernel log on the VGA
# and serial consoles, the shell on the serial console = this terminal)
run: $(BIN) guest
	./$(BIN) --kernel build/guest/vmlinuz-686 --initrd build/guest/initrd-686.gz \
	  --append "console=tty0 console=ttyS0" --hda build/guest/disk.img --serial stdio

# a long differential campaign against the host CPU (make test runs a short one)
diff-long: $(BIN)
	BT86_BIN=./$(BIN) sh tests/cpu/run-diff.sh --long

bench: $(BIN) $(BENCHBIN)
	@sh bench/run.sh $(B)

clean:
	rm -rf build build-asan bt86 bt86-asan

-include $(LIBOBJ:.o=.d) $(B)/monitor/main.d
