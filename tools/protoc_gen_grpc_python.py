"""protoc plugin adapter for grpcio-tools' built-in gRPC Python generator.

buf runs local plugins as protoc plugins; grpcio-tools ships the gRPC
generator only inside its bundled protoc. This adapter reads the plugin
request, runs that protoc over the same descriptors and returns its files.
"""

import pathlib
import sys
import tempfile

from google.protobuf import descriptor_pb2
from google.protobuf.compiler import plugin_pb2
from grpc_tools import protoc


def generate(request: plugin_pb2.CodeGeneratorRequest) -> plugin_pb2.CodeGeneratorResponse:
    """Run grpcio-tools' protoc with --grpc_python_out over the request."""
    response = plugin_pb2.CodeGeneratorResponse()
    response.supported_features = plugin_pb2.CodeGeneratorResponse.FEATURE_PROTO3_OPTIONAL
    with tempfile.TemporaryDirectory() as tmp:
        out = pathlib.Path(tmp, "out")
        out.mkdir()
        descriptors = pathlib.Path(tmp, "descriptors.pb")
        file_set = descriptor_pb2.FileDescriptorSet(file=request.proto_file)
        descriptors.write_bytes(file_set.SerializeToString())
        args = ["protoc", f"--descriptor_set_in={descriptors}", f"--grpc_python_out={out}"]
        if protoc.main(args + list(request.file_to_generate)) != 0:
            response.error = "grpc_tools.protoc failed"
            return response
        for path in sorted(out.rglob("*.py")):
            response.file.add(name=str(path.relative_to(out)), content=path.read_text())
    return response


if __name__ == "__main__":
    req = plugin_pb2.CodeGeneratorRequest.FromString(sys.stdin.buffer.read())
    sys.stdout.buffer.write(generate(req).SerializeToString())
