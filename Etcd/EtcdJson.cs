using System.Buffers.Text;
using System.Text.Json;

namespace AotKvs.Etcd;

/// <summary>
/// The few messages of etcd's v3 JSON gateway this store speaks, written and read by hand:
/// keys and values travel as base64, int64 fields arrive as strings. Hand-written rather than
/// serializer-generated because the serializer's reading side alone would add more to the
/// binary than this whole store may (docs/scaling.md).
/// </summary>
internal static class EtcdJson
{
    /// <summary>{"key":"…"}: a range (one key, linearizable) or a deleterange.</summary>
    public static byte[] KeyOnly(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key) =>
        Message(prefix, key, default, put: false);

    /// <summary>{"key":"…","value":"…","prev_kv":true}: a put that answers with what it replaced.</summary>
    public static byte[] Put(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value) =>
        Message(prefix, key, value, put: true);

    public static byte[] Authenticate(string name, string password)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("name"u8, name);
            json.WriteString("password"u8, password);
            json.WriteEndObject();
        }
        return buffer.ToArray();
    }

    /// <summary>A range's answer: the first key's value, or null when there is none ("kvs" absent).</summary>
    public static byte[]? RangeValue(byte[] answer)
    {
        var reader = new Utf8JsonReader(answer);
        if (!FindTopLevel(ref reader, "kvs"u8) || !reader.Read() || reader.TokenType != JsonTokenType.StartArray
            || !reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            return null;
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var isValue = reader.ValueTextEquals("value"u8);
            reader.Read();
            if (isValue)
                return reader.GetBytesFromBase64();
            reader.Skip();
        }
        return []; // etcd leaves an empty value out
    }

    /// <summary>A put's answer has "prev_kv" only when it replaced a value.</summary>
    public static bool HasPreviousValue(byte[] answer)
    {
        var reader = new Utf8JsonReader(answer);
        return FindTopLevel(ref reader, "prev_kv"u8);
    }

    /// <summary>A deleterange's "deleted" count (absent when nothing was deleted).</summary>
    public static long Deleted(byte[] answer)
    {
        var reader = new Utf8JsonReader(answer);
        return FindTopLevel(ref reader, "deleted"u8) && reader.Read() ? Int64(ref reader) : 0;
    }

    public static string? Token(byte[] answer)
    {
        var reader = new Utf8JsonReader(answer);
        return FindTopLevel(ref reader, "token"u8) && reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
    }

    /// <summary>A gateway error: {"error": …, "code": gRPC status, "message": …}; code -1 if unreadable.</summary>
    public static (int Code, string Message) Error(byte[] answer)
    {
        try
        {
            var reader = new Utf8JsonReader(answer);
            var code = FindTopLevel(ref reader, "code"u8) && reader.Read() ? (int)Int64(ref reader) : -1;
            reader = new Utf8JsonReader(answer);
            var message = FindTopLevel(ref reader, "message"u8) && reader.Read() && reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
            return (code, message ?? "no message");
        }
        catch (JsonException)
        {
            return (-1, "an answer that is not JSON");
        }
    }

    /// <summary>Moves to the top-level property <paramref name="name"/>; false if the object has none.</summary>
    private static bool FindTopLevel(ref Utf8JsonReader reader, ReadOnlySpan<byte> name)
    {
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            throw new JsonException("not a JSON object");
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals(name))
                return true;
            reader.Read();
            reader.Skip();
        }
        return false;
    }

    /// <summary>An int64 as the gateway writes it: a string of digits (or, leniently, a number).</summary>
    private static long Int64(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Number)
            return reader.GetInt64();
        if (reader.TokenType == JsonTokenType.String && Utf8Parser.TryParse(reader.ValueSpan, out long value, out var used) && used == reader.ValueSpan.Length)
            return value;
        throw new JsonException("not an int64");
    }

    private static byte[] Message(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool put)
    {
        var keyLength = prefix.Length + key.Length;
        Span<byte> fullKey = keyLength <= 512 ? stackalloc byte[keyLength] : new byte[keyLength];
        prefix.CopyTo(fullKey);
        key.CopyTo(fullKey[prefix.Length..]);

        ReadOnlySpan<byte> keyStart = "{\"key\":\""u8, valueStart = "\",\"value\":\""u8, putEnd = "\",\"prev_kv\":true}"u8, keyEnd = "\"}"u8;
        var length = keyStart.Length + Base64.GetMaxEncodedToUtf8Length(keyLength)
            + (put ? valueStart.Length + Base64.GetMaxEncodedToUtf8Length(value.Length) + putEnd.Length : keyEnd.Length);
        var message = new byte[length];
        var at = Append(message, 0, keyStart);
        Base64.EncodeToUtf8(fullKey, message.AsSpan(at), out _, out var written);
        at += written;
        if (put)
        {
            at = Append(message, at, valueStart);
            Base64.EncodeToUtf8(value, message.AsSpan(at), out _, out written);
            at += written;
            at = Append(message, at, putEnd);
        }
        else
        {
            at = Append(message, at, keyEnd);
        }
        return message;
    }

    private static int Append(byte[] message, int at, ReadOnlySpan<byte> text)
    {
        text.CopyTo(message.AsSpan(at));
        return at + text.Length;
    }
}
