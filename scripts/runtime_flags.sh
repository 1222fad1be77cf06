# The Deno flags every way of running meshnet passes: ./meshnet (a checkout), compile.sh (`deno compile`) and
# the single file (scripts/dist/self_extracting.sh). Sourced, not run: it sets MESHNET_RUNTIME_FLAGS.
#
# --max-semi-space-size=2 caps each isolate's young generation at 2 MB semispaces: V8 grows them to 16 MB
# while a mesh forms and keeps them, which put some routers of 40 over 100 MB RSS (bench/RESULTS.md, scale).
# --expose-gc gives src/heap.ts the cheap way to its quiet-spell collection.
MESHNET_RUNTIME_FLAGS="--unstable-net --unstable-worker-options"
MESHNET_RUNTIME_FLAGS+=" --allow-ffi --allow-net --allow-read --allow-write --allow-run --allow-env --allow-sys"
MESHNET_RUNTIME_FLAGS+=" --v8-flags=--max-semi-space-size=2,--expose-gc"
