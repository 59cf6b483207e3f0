"""MLflow artifact repositories that never hand out presigned URLs (runs inside the MLflow server).

MLflow 3.17 decides per server whether clients move artifact bytes through presigned URLs: its
`/api/3.0/mlflow/server-info` reports multipart uploads and downloads as enabled whenever the
artifact repository behind `--artifacts-destination` is a `MultipartUploadMixin` /
`MultipartDownloadMixin` (mlflow/server/handlers.py), which S3's and Azure Blob's are. Clients then
PUT and GET against the storage's in-cluster address, which a laptop or a pipeline agent cannot
reach. No server flag turns this off, so these repositories wrap MLflow's own by composition,
inherit neither mixin, and every transfer goes through the server (docs/decisions.md).

S3 uploads are streamed to a multipart upload, PART_SIZE bytes at a time, instead of being spooled
whole into the server's temp directory (`StreamUploadMixin`, used by MLflow's FastAPI artifact
router). Downloads are spooled by MLflow's router whatever the repository: the temp directory
(`TMPDIR`) must hold the largest artifact being downloaded.

Registered for the schemes `s3` and `wasbs` through the entry point group
`mlflow.artifact_repository`, which MLflow loads after its built-ins. This file imports only
MLflow and its dependencies: it ships into the upstream MLflow image as a mounted file.
"""

from __future__ import annotations

import asyncio
import logging
import mimetypes
import posixpath
from collections.abc import AsyncIterable
from typing import BinaryIO

from mlflow.store.artifact.artifact_repo import ArtifactRepository, StreamUploadMixin
from mlflow.store.artifact.azure_blob_artifact_repo import AzureBlobArtifactRepository
from mlflow.store.artifact.s3_artifact_repo import S3ArtifactRepository

PART_SIZE = 16 * 1024 * 1024  # S3's minimum part is 5 MiB; 10,000 parts allow 160 GiB
log = logging.getLogger(__name__)


class _Proxied(ArtifactRepository):
    """Delegates every operation to `self._inner`, MLflow's repository for the same URI."""

    inner_class: type[ArtifactRepository]

    def __init__(self, artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None) -> None:
        super().__init__(artifact_uri, tracking_uri, registry_uri)
        self._inner = self.inner_class(artifact_uri, tracking_uri=tracking_uri, registry_uri=registry_uri)

    def log_artifact(self, local_file, artifact_path=None):
        return self._inner.log_artifact(local_file, artifact_path)

    def log_artifacts(self, local_dir, artifact_path=None):
        return self._inner.log_artifacts(local_dir, artifact_path)

    def list_artifacts(self, path=None):
        return self._inner.list_artifacts(path)

    def download_artifacts(self, artifact_path, dst_path=None):
        return self._inner.download_artifacts(artifact_path, dst_path)

    def _download_file(self, remote_file_path, local_path):
        return self._inner._download_file(remote_file_path, local_path)

    def delete_artifacts(self, artifact_path=None):
        return self._inner.delete_artifacts(artifact_path)

    def upload_archived_trace_data_bytes(self, data: bytes) -> None:
        return self._inner.upload_archived_trace_data_bytes(data)


class ProxiedAzureBlobArtifactRepository(_Proxied):
    inner_class = AzureBlobArtifactRepository


class ProxiedS3ArtifactRepository(_Proxied, StreamUploadMixin):
    inner_class = S3ArtifactRepository

    def _destination(self, artifact_file_name: str, artifact_path: str | None) -> tuple[str, str, dict]:
        bucket, prefix = self._inner.parse_s3_compliant_uri(self.artifact_uri)
        name = posixpath.basename(artifact_file_name)
        key = posixpath.join(prefix, artifact_path, name) if artifact_path else posixpath.join(prefix, name)
        extra: dict = {}
        content_type, encoding = mimetypes.guess_type(name)
        if content_type:
            extra["ContentType"] = content_type
        if encoding:
            extra["ContentEncoding"] = encoding
        extra.update(getattr(self._inner, "_bucket_owner_params", {}))  # MLFLOW_S3_EXPECTED_BUCKET_OWNER
        extra.update(S3ArtifactRepository.get_s3_file_upload_extra_args() or {})
        return bucket, key, extra

    def log_artifact_from_stream(self, stream: BinaryIO, artifact_file_name: str, artifact_path: str | None = None) -> None:
        bucket, key, extra = self._destination(artifact_file_name, artifact_path)
        self._inner._get_s3_client().upload_fileobj(stream, bucket, key, ExtraArgs=extra)

    async def log_artifact_from_async_stream(self, chunks: AsyncIterable[bytes], artifact_file_name: str,
                                             artifact_path: str | None = None) -> None:
        """Holds about one part in memory (the buffer and the part being sent); a failed or cut-off
        upload is aborted (also when cancelled while the upload is being created), so the key never
        holds a partial object and no parts are left behind."""
        bucket, key, extra = self._destination(artifact_file_name, artifact_path)
        client = self._inner._get_s3_client()
        buffer, parts, upload_id = bytearray(), [], None

        async def send(body: bytes) -> None:
            nonlocal upload_id
            if upload_id is None:
                creating = asyncio.ensure_future(
                    asyncio.to_thread(client.create_multipart_upload, Bucket=bucket, Key=key, **extra))
                try:
                    created = await asyncio.shield(creating)
                except asyncio.CancelledError:  # the thread finishes anyway: learn the id, so it is aborted
                    upload_id = (await creating)["UploadId"]
                    raise
                upload_id = created["UploadId"]
            number = len(parts) + 1
            sent = await asyncio.to_thread(client.upload_part, Bucket=bucket, Key=key, UploadId=upload_id,
                                           PartNumber=number, Body=body)
            parts.append({"PartNumber": number, "ETag": sent["ETag"]})

        try:
            async for chunk in chunks:
                buffer += chunk
                while len(buffer) >= PART_SIZE:
                    await send(bytes(buffer[:PART_SIZE]))
                    del buffer[:PART_SIZE]
            if upload_id is None:  # smaller than one part: a single PUT
                await asyncio.to_thread(client.put_object, Bucket=bucket, Key=key, Body=bytes(buffer), **extra)
                return
            if buffer:
                await send(bytes(buffer))
            await asyncio.to_thread(client.complete_multipart_upload, Bucket=bucket, Key=key, UploadId=upload_id,
                                    MultipartUpload={"Parts": parts})
        except BaseException:
            if upload_id is not None:
                try:  # the original error matters more than a failed clean-up
                    await asyncio.to_thread(client.abort_multipart_upload, Bucket=bucket, Key=key, UploadId=upload_id)
                except Exception as error:  # noqa: BLE001
                    log.warning("could not abort multipart upload %s of s3://%s/%s: %s", upload_id, bucket, key, error)
            raise

