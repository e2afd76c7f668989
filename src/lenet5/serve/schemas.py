"""The shapes of the API's answers and request bodies, for validation and the /docs page."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field, WithJsonSchema

IMAGE_TYPES = ("image/png", "image/jpeg", "image/gif", "image/bmp", "image/webp", "image/tiff")
ACCEPTED_TYPES = (*IMAGE_TYPES, "application/json", "multipart/form-data")


class PredictAnswer(BaseModel):
    """The body of a 200 from /api/predict (documents the schema on /docs)."""

    digit: int = Field(ge=0, le=9)
    probability: float
    probabilities: list[float] = Field(min_length=10, max_length=10)
    model: str
    box: list[int] = Field(description="[x0, y0, x1, y1] of the digit in the uploaded picture's pixels")
    # OpenAPI 3.0's spelling of an optional string (pydantic would write 3.1's `type: null`).
    warning: Annotated[str | None, WithJsonSchema({"type": "string", "nullable": True})] = Field(
        description="set when the answer should not be trusted"
    )
    input_png: str = Field(description="the 28x28 image the model saw, base64 PNG")
    latency_ms: float


class ReadDigitAnswer(BaseModel):
    digit: int = Field(ge=0, le=9)
    probability: float
    box: list[int] = Field(description="[x0, y0, x1, y1] of the digit in the uploaded picture's pixels")


class NumberAnswer(BaseModel):
    number: str = Field(description="the digits read, left to right")
    confidence: float = Field(description="the probability that the whole number is read right")
    box: list[int] = Field(description="[x0, y0, x1, y1] of the number in the uploaded picture's pixels")
    digits: list[ReadDigitAnswer]


class ReadAnswer(BaseModel):
    """The body of a 200 from /api/read."""

    file: str
    number: str = Field(description="every number read, top to bottom, separated by spaces (one number: it)")
    confidence: float = Field(description="the least confident number's confidence")
    digits: list[ReadDigitAnswer] = Field(description="every digit of every number")
    numbers: list[NumberAnswer] = Field(description="each number on its own, top to bottom")
    sheet: bool = Field(description="a sheet of paper was found in the photo and straightened")
    model: str
    latency_ms: float


# The request body both picture routes take, for /docs ("Try it out" offers a file picker).
PICTURE_BODY: dict[str, Any] = {
    "required": True,
    "description": "The picture itself, a form with the picture as a file, or JSON with it in base64.",
    "content": {
        "multipart/form-data": {  # listed first: Swagger UI's "Try it out" then offers a file picker
            "schema": {
                "type": "object",
                "required": ["file"],
                "properties": {"file": {"type": "string", "format": "binary"}},
            }
        },
        **{kind: {"schema": {"type": "string", "format": "binary"}} for kind in IMAGE_TYPES},
        "application/json": {
            "schema": {
                "type": "object",
                "required": ["image"],
                "properties": {"image": {"type": "string", "description": "base64 PNG or JPEG, or a data: URL"}},
            }
        },
    },
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    408: {"description": "body not received in time"},
    413: {"description": "body too large"},
    415: {"description": "unsupported type"},
    422: {"description": "not a readable picture of a digit"},
    503: {"description": "too many pictures being decoded; retry later"},
}
