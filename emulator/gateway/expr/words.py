"""The words of the C# subset policy expressions are parsed in (``expr.parser``).

Types and namespaces an expression may name, the statements and keywords it refuses by name
(so the error says what is unsupported rather than "syntax error"), and the literal words.
"""

from __future__ import annotations

# Types a cast, declaration, ``is``/``as``, ``new`` or static access may name: those of API
# Management's list of allowed .NET types (Learn, "API Management policy expressions", ".NET
# Framework types allowed in policy expressions") and of its context model (IRequest, Jwt, ...).
# Whether the local gateway implements one is ``netlib`` / ``surface``'s business.
KNOWN_TYPES = frozenset(
    {
        "string", "String", "int", "Int32", "long", "Int64", "double", "Double", "float", "Single",
        "decimal", "Decimal", "bool", "Boolean", "object", "Object", "char", "Char", "byte", "Byte",
        "short", "Int16", "ushort", "UInt16", "uint", "UInt32", "ulong", "UInt64", "sbyte", "SByte",
        "DateTime", "TimeSpan", "Guid", "JObject", "JArray", "JToken", "JValue", "JProperty",
        "JsonConvert", "Formatting", "JTokenType", "Convert", "Encoding", "Uri", "Math", "Regex",
        "SHA256", "SHA1", "SHA384", "SHA512", "MD5", "HMACSHA256", "HMACSHA1", "HMACSHA384", "HMACSHA512",
        "HMACMD5", "SHA1Managed", "SHA256Managed", "SHA384Managed", "SHA512Managed", "HashAlgorithm",
        "StringComparison", "StringComparer", "Jwt", "BitConverter", "Dictionary", "IDictionary", "List",
        "IList", "HashSet", "IEnumerable", "Enumerable", "StringBuilder", "Match", "Group", "XDocument",
        "XElement", "IRequest", "IResponse", "IMessageBody", "IUrl", "IApi", "IOperation", "KeyValuePair",
        "Array", "IPAddress", "AddressFamily", "WebUtility", "DateTimeOffset", "Random", "Exception",
        "StringSplitOptions", "RegexOptions", "MidpointRounding", "BasicAuthCredentials",
    }
)  # fmt: skip
# .NET types API Management does not allow in expressions (absent from its list): named so the
# refusal says so instead of "does not exist". Full names for the message.
NOT_ALLOWED_TYPES = {
    "Environment": "System.Environment", "File": "System.IO.File", "Directory": "System.IO.Directory",
    "Path": "System.IO.Path", "Stream": "System.IO.Stream", "MemoryStream": "System.IO.MemoryStream",
    "Process": "System.Diagnostics.Process", "Stopwatch": "System.Diagnostics.Stopwatch",
    "Debug": "System.Diagnostics.Debug", "Thread": "System.Threading.Thread", "Task": "System.Threading.Tasks.Task",
    "Timer": "System.Threading.Timer", "Interlocked": "System.Threading.Interlocked",
    "HttpClient": "System.Net.Http.HttpClient", "WebClient": "System.Net.WebClient",
    "WebRequest": "System.Net.WebRequest", "HttpWebRequest": "System.Net.HttpWebRequest", "Dns": "System.Net.Dns",
    "HttpUtility": "System.Web.HttpUtility", "Console": "System.Console", "Activator": "System.Activator",
    "Type": "System.Type", "Assembly": "System.Reflection.Assembly", "AppDomain": "System.AppDomain",
    "GC": "System.GC", "Marshal": "System.Runtime.InteropServices.Marshal",
    "RandomNumberGenerator": "System.Security.Cryptography.RandomNumberGenerator",
    "Aes": "System.Security.Cryptography.Aes", "AesManaged": "System.Security.Cryptography.AesManaged",
    "Rijndael": "System.Security.Cryptography.Rijndael",
    "RijndaelManaged": "System.Security.Cryptography.RijndaelManaged",
    "TripleDES": "System.Security.Cryptography.TripleDES", "CultureInfo": "System.Globalization.CultureInfo",
    "TextInfo": "System.Globalization.TextInfo", "NumberStyles": "System.Globalization.NumberStyles",
    "DateTimeStyles": "System.Globalization.DateTimeStyles", "XmlDocument": "System.Xml.XmlDocument",
    "JsonSerializer": "System.Text.Json.JsonSerializer", "JsonDocument": "System.Text.Json.JsonDocument",
    "JsonSerializerSettings": "Newtonsoft.Json.JsonSerializerSettings",
    "JsonReaderException": "Newtonsoft.Json.JsonReaderException",
}  # fmt: skip
# what the parser takes for a type name (refused by name afterwards when not allowed)
TYPE_WORDS = KNOWN_TYPES | frozenset(NOT_ALLOWED_TYPES)
NAMESPACES = frozenset(
    {
        "System", "System.Text", "System.Linq", "System.Collections", "System.Collections.Generic",
        "System.Security", "System.Security.Cryptography", "System.Text.RegularExpressions",
        "System.Net", "System.Xml", "System.Xml.Linq", "Newtonsoft", "Newtonsoft.Json",
        "Newtonsoft.Json.Linq", "System.IO", "System.Diagnostics", "System.Threading",
        "System.Threading.Tasks", "System.Net.Http", "System.Web", "System.Reflection",
        "System.Runtime", "System.Runtime.InteropServices", "System.Globalization", "System.Text.Json",
    }
)  # fmt: skip
# namespaces none of whose types API Management allows (System.IO keeps StringReader/StringWriter,
# not implemented here)
NOT_ALLOWED_NAMESPACES = frozenset(
    {"System.Diagnostics", "System.Threading", "System.Threading.Tasks", "System.Net.Http", "System.Web",
     "System.Reflection", "System.Runtime", "System.Runtime.InteropServices", "System.Globalization",
     "System.Text.Json"}
)  # fmt: skip


def not_allowed(name: str) -> str | None:
    """APIM's refusal of a type it does not allow in expressions (``name`` short or qualified)."""
    short = name.rsplit(".", 1)[-1]
    namespace = name.rsplit(".", 1)[0] if "." in name else ""
    full = NOT_ALLOWED_TYPES.get(short) if short not in KNOWN_TYPES else None
    if full is None and namespace in NOT_ALLOWED_NAMESPACES:
        full = name
    if full is None:
        return None
    return (
        f"The type '{full}' is not allowed in policy expressions: API Management allows only the "
        ".NET types of its list (Learn, 'API Management policy expressions')"
    )


UNSUPPORTED_STATEMENTS = frozenset({"lock", "goto", "yield", "checked", "fixed", "unsafe"})
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
