using System.Text.Json;
using System.Text.Unicode;

namespace AotKvs.Storage;

/// <summary>
/// Reads the body of a PUT: a JSON object with a member "value". The value is kept as the
/// exact JSON text the client sent (no DOM, nothing rounded), so it reads back deep-equal.
/// </summary>
internal static class PutBody
{
    /// <summary>
    /// The raw JSON of the "value" member (the last one, if repeated, as most JSON parsers
    /// do), or null when the body is not valid UTF-8 JSON, not an object, or has no "value".
    /// </summary>
    public static byte[]? TryReadValue(ReadOnlySpan<byte> body, int maxDepth)
    {
        // The JSON reader does not check the UTF-8 inside strings; a value we store must be
        // valid JSON text when we hand it back.
        if (!Utf8.IsValid(body))
            return null;

        try
        {
            var reader = new Utf8JsonReader(body, new JsonReaderOptions { MaxDepth = maxDepth });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
                return null;

            Range? value = null;
            while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
            {
                var isValue = reader.ValueTextEquals("value"u8);
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (isValue)
                    value = start..(int)reader.BytesConsumed;
            }

            // Reading past the closing brace throws if anything but whitespace follows it.
            if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
                return null;
            return value is { } range ? body[range].ToArray() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
