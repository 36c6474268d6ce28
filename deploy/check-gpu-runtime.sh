#!/bin/sh
# Run at the end of a GPU image build (deploy/Dockerfile.gpu, deploy/Dockerfile.jetson): fails the
# build unless onnxruntime-node is the pinned version, its binding names the tensorrt and cuda
# backends, and the provider libraries are in the binding's folder with every library they link
# against present in the image. A build has no GPU, so this is what can be known before the device:
# the first session on the device still builds the TensorRT engine (see README).
# usage: check-gpu-runtime.sh ONNXRUNTIME_VERSION BINDING_DIR
set -eu
version="$1"
dir="$2"

node -e '
const [version] = process.argv.slice(1);
const installed = require("onnxruntime-node/package.json").version;
if (installed !== version) {
  console.error(`onnxruntime-node is ${installed}, the image was built for ${version}: the binding and its JavaScript must be one release`);
  process.exit(1);
}
const names = require("onnxruntime-node").listSupportedBackends().map((b) => b.name);
const missing = ["tensorrt", "cuda"].filter((n) => !names.includes(n));
if (missing.length) {
  console.error(`the onnxruntime-node binding lacks ${missing.join(" and ")} (it has ${names.join(", ")}): it was not built with them`);
  process.exit(1);
}
' "$version"

status=0
for lib in libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so libonnxruntime_providers_tensorrt.so; do
  if [ ! -f "$dir/$lib" ]; then
    echo "$dir/$lib is missing: onnxruntime cannot load that execution provider" >&2
    status=1
    continue
  fi
  # libcuda is the driver: the NVIDIA container runtime mounts it when the container starts
  unresolved=$(ldd "$dir/$lib" | grep 'not found' | grep -v 'libcuda\.so' || true)
  if [ -n "$unresolved" ]; then
    echo "$dir/$lib needs libraries this image lacks:" >&2
    echo "$unresolved" >&2
    status=1
  fi
done
[ "$status" -eq 0 ] && echo "onnxruntime-node $version: tensorrt and cuda providers in $dir, every library resolved"
exit "$status"
