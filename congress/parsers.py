"""DRF's JSON parser, with absurdly deep nesting answered as bad input.

``json.loads`` raises RecursionError (not ValueError) on ``{"a":{"a":…``
thousands of levels deep; DRF's parser lets it through as a 500.
"""

from __future__ import annotations

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser


class SafeJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        try:
            return super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError("JSON parse error - nested too deeply.") from None
