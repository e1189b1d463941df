"""Raw multipart bodies for the tests that talk to a real server byte by byte (slowed,
streamed or huge uploads, where the test client's encoder would not do)."""


def fields_part(boundary: str, fields: dict[str, str]) -> bytes:
    """Plain form fields, each as its own part."""
    return "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ).encode()


def file_head(
    boundary: str, filename: str, kind: str = "application/octet-stream", name: str = "attachments"
) -> bytes:
    """The headers of a file part; its bytes follow, then ``b"\\r\\n"``."""
    return (
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
        f'filename="{filename}"\r\nContent-Type: {kind}\r\n\r\n'
    ).encode()


def end(boundary: str) -> bytes:
    return f"--{boundary}--\r\n".encode()
