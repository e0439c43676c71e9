"""The stand-in's serving backend for end-to-end runs: real vLLM behind Google's container contract.

``deployModel`` on the Vertex stand-in calls ``start``: it reads the Model's container args,
maps ``--model=<id>`` to a tiny local model, starts a real vLLM OpenAI server with the args
translated for this CPU, and puts a ``GoogleVllmContainer`` (``/generate``, ``/ping``, chat) in
front. ``undeployModel`` calls ``stop``: the container stops, and so does the vLLM server.

With ``reuse=True`` (the fault matrix) a vLLM server started for one model and set of args is
kept warm and shared by later deploys; only the container in front is per deploy. Servers are
always stopped by ``close()``.
"""

from __future__ import annotations

import threading
from pathlib import Path

from tests.e2e.google_container import GoogleVllmContainer
from tests.e2e.vllm_server import VllmServer, translate_container_args

__all__ = ["RealVllmBackend"]


class RealVllmBackend:
    """``ServingBackend`` that serves tiny models with real vLLM.

    Args:
        models: Model id as the container gets it (``--model=``) → local model folder.
        reuse: Keep vLLM servers warm across deploys of the same model and args.
    """

    def __init__(self, models: dict[str, Path], reuse: bool = False) -> None:
        self.models = models
        self.reuse = reuse
        self.storage = None  # a stand-in's Cloud Storage (``tests.standin.storage.Objects``): serves gs:// models
        self.startup_seconds: list[float] = []
        self._servers: dict[tuple, VllmServer] = {}
        self._deployed: dict[str, tuple[tuple, GoogleVllmContainer]] = {}
        self._lock = threading.Lock()

    def start(self, deployed_model_id: str, model: dict, dedicated_resources: dict) -> str:
        """Starts (or reuses) vLLM for the model's container args; returns the container URL."""
        args = model.get("containerSpec", {}).get("args", [])
        model_id = next((a.split("=", 1)[1] for a in args if a.startswith("--model=")), "")
        if model_id.startswith("gs://") and model_id not in self.models and self.storage is not None:
            self.models[model_id] = self._download(model_id)
        if model_id not in self.models:
            raise RuntimeError(
                f"OSError: {model_id} is not a local folder and is not a valid model identifier listed on "
                "'https://huggingface.co/models' (Repository Not Found)"
            )
        key = (model_id, tuple(translate_container_args(args)))
        with self._lock:
            server = self._servers.get(key)
            if server is None or not server.healthy():
                server = VllmServer(self.models[model_id], extra_args=list(key[1]), served_model_name=model_id)
                server.start(timeout=300)
                self.startup_seconds.append(server.startup_seconds or 0.0)
                self._servers[key] = server
            container = GoogleVllmContainer(server.base_url, server.served_model_name).start()
            self._deployed[deployed_model_id] = (key, container)
        return container.url

    def _download(self, uri: str) -> Path:
        """What Google's container does with a gs:// model: copies the folder to local disk, then serves it."""
        import tempfile

        bucket, _, prefix = uri.removeprefix("gs://").partition("/")
        folder = Path(tempfile.mkdtemp(prefix="vllm-vertex-gs-model-"))
        for name in self.storage.names(bucket, prefix):
            data = self.storage.read(f"gs://{bucket}/{name}")
            if data is None:
                raise RuntimeError(f"OSError: cannot read gs://{bucket}/{name}")
            (folder / name[len(prefix):]).parent.mkdir(parents=True, exist_ok=True)
            (folder / name[len(prefix):]).write_bytes(data)
        return folder

    def stop(self, deployed_model_id: str) -> None:
        """Stops the deploy's container, and its vLLM server unless servers are reused."""
        with self._lock:
            key, container = self._deployed.pop(deployed_model_id, (None, None))
            if container is not None:
                container.stop()
            if key is not None and not self.reuse and all(k != key for k, _ in self._deployed.values()):
                server = self._servers.pop(key, None)
                if server is not None:
                    server.stop()

    def running_servers(self) -> int:
        """vLLM servers alive now."""
        with self._lock:
            return sum(1 for s in self._servers.values() if s.healthy())

    def close(self) -> None:
        """Stops every container and vLLM server (by process group)."""
        with self._lock:
            for _, container in self._deployed.values():
                container.stop()
            self._deployed.clear()
            for server in self._servers.values():
                server.stop()
            self._servers.clear()
