"""Policy XML laid out one way before a plan shows a diff of it (pure).

APIM hands a stored policy back re-indented (tabs, its own line breaks, attribute order), so a
diff of the text as stored against the text as rendered is mostly whitespace: a one-word change
showed as 34 ``-`` and 34 ``+`` lines. The providers already *compare* policies canonically
(``providers.base.canonical_xml``: a policy that differs only in layout is no change); this
module gives the *display* the same footing: both sides are parsed and written again with
4-space indentation, attributes sorted with their whitespace runs collapsed (the parser has
turned an attribute expression's line breaks into spaces already), blank text dropped and the
lines of text content (policy expressions) stripped and kept — so the unified diff shows only
real changes. When the two layouts come out equal although the texts differ (a change of
whitespace only), ``plan_text`` shows the texts as they are.
"""

from __future__ import annotations


def normalised_xml(text: str) -> str | None:
    """The document re-laid out, or None when ``text`` is not well-formed XML (shown as is)."""
    from lxml import etree

    if not text.lstrip().startswith("<"):
        return None
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(text.strip().encode(), parser)
    except etree.XMLSyntaxError:
        return None
    for el in root.iter():
        if isinstance(el.tag, str):  # elements: attributes in one order
            items = sorted(el.attrib.items())
            el.attrib.clear()
            for key, value in items:  # an expression's line breaks are spaces once parsed
                el.set(key, " ".join(value.split()))
        for name in ("text", "tail"):
            value = getattr(el, name)
            if value is not None:
                lines = [line.strip() for line in value.splitlines()]
                setattr(el, name, "\n".join(line for line in lines if line) or None)
    etree.indent(root, space="    ")
    result: str = etree.tostring(root, encoding="unicode")
    return result
