using System.Text.Json;
using System.Text.Unicode;
using System.Text;
using AotKvs.Endpoints;
using Xunit.Abstractions;
using Xunit;

namespace AotKvs.Tests.Fuzz;

/// <summary>
/// The PUT body reader (PutBody.TryFindValue) on random and mutated JSON: deep nesting around
/// the limit, huge numbers, invalid UTF-8 and lone surrogates, duplicate and escaped member
/// names, truncation, trailing bytes. It never throws; it finds a value exactly when
/// System.Text.Json's document reader, with the same depth limit, finds the body an object
/// with a "value" member, and then the last such member's exact text; that text is one JSON
/// value nested no deeper than the limit allows.
/// </summary>
[Collection(FuzzCollection.Name), Trait("Category", "Unit")]
public sealed class PutBodyFuzzTests(ITestOutputHelper output)
{
    private static readonly int[] Depths = [1, 2, 3, 8, 64, 512];

    private static readonly string[] Corpus =
    [
        """{"value": 1}""", """{"value":12345678901234567890}""", """{"value": "a\"b\u00e9"}""", """{"value": {"a": [1, {"b": null}]}}""",
        """{"value": null}""", """{"x": 1, "value": true, "y": [2]}""", """{"value": 1, "value": 2}""", """{"\u0076alue": 3}""",
        """{"\ud800": 1, "value": 2}""", """{"value": "\udc00"}""",
        " \n{\"value\" : \"x\" }\n ", "", "{", "[]", "\"value\"", "{\"val\": 1}", "{\"value\": }", "{\"value\": 1} 2", "{\"value\": 1,}",
        "{\"value\": NaN}", "{\"value\": 01}", "{\"value\": \"\\x\"}", "{\"value\": 1e99999}",
        "{\"value\": -0.0000000000000000000000000001e-400}", "{\"value\": 1 // comment\n}", "\uFEFF{\"value\": 1}",
        "{\"value\": " + new string('[', 511) + new string(']', 511) + "}",
        "{\"value\": " + new string('[', 512) + new string(']', 512) + "}",
        "{\"value\": " + new string('9', 5000) + "}",
        "{\"value\": [" + string.Join(",", Enumerable.Repeat("{\"a\":[]}", 500)) + "]}",
    ];

    private static readonly byte[][] Dictionary =
        [.. new[] { "{", "}", "[", "]", "\"value\"", "\"value\":", ":", ",", "\"", "\\", "\\u0076", "\\ud83d", "\\udc00", "null", "true", "1e400",
            "-", ".", "E+", "\uFEFF", "/*", "//" }.Select(Encoding.UTF8.GetBytes), [0xC3], [0xFF], [0xED, 0xA0, 0x80]];

    internal delegate bool Finder(ReadOnlySpan<byte> body, int maxDepth, out Range value);

    private static readonly FuzzTarget Target = new(
        "PutBody", [.. Corpus.Select(Encoding.UTF8.GetBytes), [.. "{\"value\": \""u8, 0xFF, .. "\"}"u8]], Generate,
        (input, context) => Check(input, context, PutBody.TryFindValue))
    {
        Dictionary = Dictionary,
    };

    [Fact]
    public void Put_bodies_give_the_value_or_refuse_and_never_throw()
    {
        var result = Fuzzer.Run(Target);
        output.WriteLine(result.Summary);
        result.AssertClean(nameof(PutBodyFuzzTests));
    }

    /// <summary>
    /// Found by this fuzzer: a member name with an escaped lone surrogate made the name
    /// comparison throw InvalidOperationException out of TryFindValue (a 500 for the PUT).
    /// Such a name is not "value"; the body is read on.
    /// </summary>
    [Theory]
    [InlineData("""{"\ud800": 1, "value": 2}""", "2")]
    [InlineData("""{"value": 1, "\udc00": 2}""", "1")]
    [InlineData("""{"\t\ud800x": [], "\u0076alue": "v"}""", "\"v\"")]
    [InlineData("""{"\ud800": 1}""", null)]
    public void A_member_name_with_a_lone_surrogate_escape_is_not_value(string body, string? expected)
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        Assert.Equal(expected is not null, PutBody.TryFindValue(bytes, 64, out var value));
        if (expected is not null)
            Assert.Equal(expected, Encoding.UTF8.GetString(bytes[value]));
    }

    [Fact]
    public void The_oracle_catches_a_reader_that_ignores_the_depth_limit()
    {
        var result = RunBroken("no depth limit", (ReadOnlySpan<byte> body, int _, out Range value) => PutBody.TryFindValue(body, 100_000, out value));
        Assert.Contains("past the limit", result.Failure!.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void The_oracle_catches_a_reader_that_keeps_the_first_of_two_values()
    {
        var result = RunBroken("first value wins", FirstValue);
        Assert.Contains("document reader", result.Failure!.Detail, StringComparison.Ordinal);
    }

    private static FuzzResult RunBroken(string name, Finder finder)
    {
        var broken = Target with { Name = $"PutBody ({name})", Oracle = (input, context) => Check(input, context, finder) };
        var result = Fuzzer.Run(broken, new FuzzBudget(TimeSpan.FromSeconds(20), 100_000, Seed: 1));
        Assert.Equal(FuzzFailureKind.Exception, result.Failure?.Kind);
        return result;
    }

    private static void Check(byte[] body, FuzzContext context, Finder finder)
    {
        var maxDepth = context.Random.Pick(Depths);
        bool found;
        Range range;
        using (context.Measure())
            found = finder(body, maxDepth, out range);

        string? value = null;
        if (found)
        {
            var (start, length) = range.GetOffsetAndLength(body.Length); // throws if the range is outside the body
            var text = body.AsSpan(start, length);
            var depth = Depth(text);
            Assert.True(depth < maxDepth, $"a value nested {depth} deep, past the limit {maxDepth} (the body's object is level 1)");
            using var alone = JsonDocument.Parse(text.ToArray(), new JsonDocumentOptions { MaxDepth = maxDepth });
            value = Encoding.UTF8.GetString(text);
        }
        var expected = Expected(body, maxDepth);
        Assert.True(expected == value, $"the document reader says {expected ?? "no value"}, TryFindValue {value ?? "no value"} (depth limit {maxDepth})");
    }

    /// <summary>What System.Text.Json's document reader makes of the body: the last "value" member's raw text, or null.</summary>
    private static string? Expected(byte[] body, int maxDepth)
    {
        if (!Utf8.IsValid(body))
            return null;
        try
        {
            using var document = JsonDocument.Parse(body, new JsonDocumentOptions { MaxDepth = maxDepth });
            if (document.RootElement.ValueKind != JsonValueKind.Object)
                return null;
            return document.RootElement.EnumerateObject().LastOrDefault(IsValue) is { Value.ValueKind: not JsonValueKind.Undefined } found
                ? found.Value.GetRawText() : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    /// <summary>A name that cannot be unescaped (a lone surrogate) is not "value".</summary>
    private static bool IsValue(JsonProperty member)
    {
        try
        {
            return member.NameEquals("value");
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>How deep containers nest in a JSON text (0 for a number or a string), strings skipped.</summary>
    private static int Depth(ReadOnlySpan<byte> json)
    {
        int depth = 0, deepest = 0;
        var inString = false;
        for (var i = 0; i < json.Length; i++)
        {
            var b = json[i];
            if (inString)
            {
                if (b == '\\')
                    i++;
                else if (b == '"')
                    inString = false;
            }
            else if (b == '"')
                inString = true;
            else if (b is (byte)'[' or (byte)'{')
                deepest = Math.Max(deepest, ++depth);
            else if (b is (byte)']' or (byte)'}')
                depth--;
        }
        return deepest;
    }

    /// <summary>PutBody.TryFindValue with one change: the first "value" member wins.</summary>
    private static bool FirstValue(ReadOnlySpan<byte> body, int maxDepth, out Range value)
    {
        value = default;
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
                bool isValue;
                try
                {
                    isValue = reader.ValueTextEquals("value"u8);
                }
                catch (InvalidOperationException)
                {
                    isValue = false;
                }
                reader.Read();
                var start = (int)reader.TokenStartIndex;
                reader.Skip();
                if (isValue && !found)
                {
                    value = start..(int)reader.BytesConsumed;
                    found = true;
                }
            }
            return reader.TokenType == JsonTokenType.EndObject && !reader.Read() && found;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    /// <summary>A body: mostly an object with members, "value" among them (or not, or twice), any JSON inside; then often broken a little.</summary>
    private static byte[] Generate(Random random)
    {
        var text = new StringBuilder();
        if (random.Chance(5))
            text.Append(random.Pick([" ", "\n", "\uFEFF", "\t\r\n"]));
        if (random.Chance(90))
        {
            text.Append('{');
            var members = random.Next(5);
            var valueAt = random.Chance(85) ? random.Next(members + 1) : -1;
            for (var i = 0; i <= members; i++)
            {
                if (i > 0)
                    text.Append(random.Chance(97) ? "," : random.Pick([",,", "", " "]));
                var name = i == valueAt || random.Chance(10)
                    ? random.Pick(["\"value\"", "\"value\"", "\"\\u0076alue\"", "\"Value\"", "\"value \"", "value"])
                    : Json.Quoted(random);
                text.Append(name).Append(random.Pick([":", ": ", " : "]));
                Json.Value(text, random, 0);
            }
            text.Append(random.Chance(97) ? "}" : random.Pick(["", "}}", "},", "} 1", "]"]));
        }
        else
            Json.Value(text, random, 0);
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        if (random.Chance(10))
            bytes = bytes[..random.Next(bytes.Length + 1)]; // truncated
        if (random.Chance(5))
            bytes = [.. bytes, .. random.Pick<byte[]>([[0xFF], [0xC3], [0xED, 0xA0, 0x80], [0xF4, 0x90, 0x80, 0x80], [0x00]])];
        return bytes;
    }

    private static class Json
    {
        public static void Value(StringBuilder text, Random random, int depth)
        {
            switch (random.Next(depth > 6 ? 6 : 9))
            {
                case 0:
                    text.Append(random.Pick(["null", "true", "false", "nul", "True", "NaN", "Infinity", "-Infinity", "undefined"]));
                    break;
                case 1 or 2:
                    text.Append(Number(random));
                    break;
                case 3 or 4:
                    text.Append(Quoted(random));
                    break;
                case 5:
                {
                    // Nesting around the limits the oracle uses (2, 3, 8, 64, 512).
                    var n = random.Pick([1, 2, 3, 7, 8, 9, 62, 63, 64, 65, 510, 511, 512, 513, random.Next(1200)]);
                    var open = random.Chance(50) ? "[" : "{\"a\":";
                    for (var i = 0; i < n; i++)
                        text.Append(open);
                    text.Append(random.Chance(50) ? "1" : open == "[" ? "" : "null");
                    for (var i = 0; i < n; i++)
                        text.Append(open == "[" ? ']' : '}');
                    break;
                }
                case 6 or 7:
                {
                    text.Append('[');
                    for (var i = random.Next(5); i > 0; i--)
                    {
                        Value(text, random, depth + 1);
                        if (i > 1 || random.Chance(3))
                            text.Append(',');
                    }
                    text.Append(']');
                    break;
                }
                default:
                {
                    text.Append('{');
                    for (var i = random.Next(4); i > 0; i--)
                    {
                        text.Append(Quoted(random)).Append(':');
                        Value(text, random, depth + 1);
                        if (i > 1)
                            text.Append(',');
                    }
                    text.Append('}');
                    break;
                }
            }
        }

        public static string Number(Random random) => random.Next(6) switch
        {
            0 => random.Next().ToString(null, null),
            1 => "-" + random.Digits(1 + random.Next(30)) + "." + random.Digits(1 + random.Next(30)),
            2 => new string('9', random.Pick([20, 309, 400, 5000])),
            3 => random.Digits(1 + random.Next(3)) + random.Pick(["e", "E", "e+", "e-", "E-"]) + random.Pick(["308", "309", "99999", "0", "", "99999999999999999999"]),
            4 => random.Pick(["0", "-0", "01", "00", "1.", ".5", "-", "+1", "0x10", "1e", "--1", "0.0e-400"]),
            _ => random.Digits(1 + random.Next(18)),
        };

        public static string Quoted(Random random)
        {
            var text = new StringBuilder("\"");
            for (var i = random.Next(12); i > 0; i--)
                text.Append(random.Next(8) switch
                {
                    0 => random.Pick(["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\u00e9", "\\u0000", "\\uD83D\\uDE00"]),
                    1 => random.Pick(["\\ud800", "\\udc00", "\\x", "\\u12", "\\", "\t", "\n", "\u0001"]),
                    2 => random.Pick(["\u00e9", "\u20ac", "\ud83d\ude00", "\ud800"]),
                    _ => ((char)random.Next(0x20, 0x7F)).ToString(),
                });
            return text.Append(random.Chance(97) ? "\"" : "").ToString();
        }
    }
}
