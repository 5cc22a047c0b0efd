"""What is inside a document: formats, text and structure (docs/documents.md)."""
