"""The words of the C# subset policy expressions are parsed in (``expr.parser``).

Types and namespaces an expression may name, the statements and keywords it refuses by name
(so the error says what is unsupported rather than "syntax error"), and the literal words.
"""

from __future__ import annotations

# Types a cast, declaration, ``is``/``as``, ``new`` or static access may name.
KNOWN_TYPES = frozenset(
    {
        "string", "String", "int", "Int32", "long", "Int64", "double", "Double", "float", "Single",
        "decimal", "Decimal", "bool", "Boolean", "object", "Object", "char", "Char", "byte", "Byte",
        "DateTime", "TimeSpan", "Guid", "JObject", "JArray", "JToken", "JValue", "JProperty",
        "JsonConvert", "Formatting", "Convert", "Encoding", "Uri", "Math", "Regex", "SHA256", "SHA1",
        "SHA512", "MD5", "HMACSHA256", "HMACSHA1", "HMACSHA512", "StringComparison", "Jwt",
        "BitConverter", "Dictionary", "List", "IEnumerable", "Enumerable", "Environment",
        "StringBuilder", "Match", "Group", "XDocument", "XElement", "IRequest", "IResponse",
        "IMessageBody", "IUrl", "IApi", "IOperation", "KeyValuePair", "Array", "IPAddress",
        "DateTimeOffset", "Random", "Aes", "Rijndael", "RandomNumberGenerator", "StringSplitOptions",
        "RegexOptions", "MidpointRounding",
    }
)  # fmt: skip
NAMESPACES = frozenset(
    {
        "System", "System.Text", "System.Linq", "System.Collections", "System.Collections.Generic",
        "System.Security", "System.Security.Cryptography", "System.Text.RegularExpressions",
        "System.Net", "System.Xml", "System.Xml.Linq", "Newtonsoft", "Newtonsoft.Json",
        "Newtonsoft.Json.Linq",
    }
)  # fmt: skip
UNSUPPORTED_STATEMENTS = frozenset(
    {
        "while",
        "for",
        "do",
        "switch",
        "try",
        "throw",
        "using",
        "lock",
        "goto",
        "yield",
        "checked",
        "unchecked",
        "fixed",
        "unsafe",
    }
)
UNSUPPORTED_WORDS = frozenset(
    {
        "typeof",
        "default",
        "nameof",
        "await",
        "async",
        "this",
        "base",
        "stackalloc",
        "sizeof",
        "delegate",
        "checked",
    }
)
LITERAL_WORDS = {"true": True, "false": False, "null": None}
