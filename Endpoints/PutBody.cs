using System.Text.Json;
using System.Text.Unicode;

namespace AotKvs.Endpoints;

/// <summary>
/// Reads the body of a PUT: a JSON object with a member "value". The value is kept as the
/// exact JSON text the client sent (no DOM, nothing rounded), so it reads back deep-equal.
/// </summary>
internal static class PutBody
{
    /// <summary>
    /// Finds the raw JSON of the "value" member (the last one, if repeated, as most JSON
    /// parsers do). False when the body is not valid UTF-8 JSON, not an object, or has no "value".
    /// </summary>
    public static bool TryFindValue(ReadOnlySpan<byte> body, int maxDepth, out Range value)
    {
        value = default;
        // The JSON reader does not check the UTF-8 inside strings; a value we store must be
        // valid JSON text when we hand it back.
        if (!Utf8.IsValid(body))
            return false;

        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = maxDepth });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return false;

            var found = false;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isValue = IsValue(ref reader);
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (isValue)
                {
                    value = start..(int)reader.BytesConsumed;
                    found = true;
                }
            }

            // Reading past the closing brace throws if anything but whitespace follows it.
            return reader.TokenType == JsonTokenType.EndObject && !reader.Read() && found;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether the member name just read is "value". A name with an escaped lone surrogate
    /// ("\ud800") is valid JSON the reader cannot unescape (it throws InvalidOperationException):
    /// it is not "value", and the body is read on.
    /// </summary>
    private static bool IsValue(ref Utf8JsonReader reader)
    {
        try
        {
            return reader.ValueTextEquals("value"u8);
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
