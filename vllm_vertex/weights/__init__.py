"""Staged weights (issue #20): which files vLLM needs, where they go in Cloud Storage, when a copy is complete.

Pure (standard library only). The cloud half, which streams the files from the Hub into the bucket, is
``vllm_vertex.cloud.weights``.
"""
