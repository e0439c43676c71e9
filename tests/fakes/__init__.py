"""Local stand-ins for services other than Vertex AI (the Hugging Face Hub)."""
