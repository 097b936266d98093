# strait: top-level entry points. The real build is CMake + Ninja; this file only sequences it.
#   make        build build/straitd and build/strait (RelWithDebInfo)
#   make test   unit + fuzz-corpus replay under ASan/UBSan, then integration tests with real clients
#   make demo   start straitd on the embedded cluster and run the main job through its endpoint
#   make bench  benchmarks: direct vs HAProxy vs strait (see docs/performance.md)
#   make bench-authz  throughput with data-plane authorization on vs off (no root needed)
#   make bench-tls    TLS throughput vs HAProxy terminating TLS; IAM connections per second
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?=

.PHONY: all deps build build-asan test unit integration demo bench bench-authz bench-tls format clean

all: build

deps:
	@scripts/deps

build: deps
	@cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo $(CMAKE_FLAGS) >/dev/null
	@ninja -C build -j $(JOBS)

build-asan: deps
	@cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DST_SANITIZE=ON $(CMAKE_FLAGS) >/dev/null
	@ninja -C build-asan -j $(JOBS)

unit: build-asan
	@cd build-asan && ctest -L 'unit|fuzz' --output-on-failure -j $(JOBS)

# The modern-upstream tests (test_modern_*) need librdkafka 2.12 (built once into
# build/modern-librdkafka, a few minutes); it must exist before build/ is configured.
integration: deps
	@scripts/build-modern-librdkafka
	@$(MAKE) --no-print-directory build
	@cd build && ctest -L integration --output-on-failure

test: unit integration

demo: build
	@scripts/demo

bench: build
	@bench/run

bench-authz: build
	@bench/authz

bench-tls: build
	@bench/tls

format:
	@clang-format -i $$(git ls-files 'src/*.c' 'src/*.h' 'tests/*.c' 'tools/*.c' 'bench/*.c')

clean:
	rm -rf build build-asan
