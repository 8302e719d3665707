using System.Text;

namespace AotKvs.Tests.Fuzz;

/// <summary>
/// The mutation engine: 1, 2, 4 or 8 edits stacked on an input, each one of bit flips, byte
/// overwrites and inserts (random or interesting: 0x00, 0xFF, CR, LF, ':', ',', UTF-8 lead
/// bytes), deletes, duplicated runs (floods), splices with a corpus item, the target's
/// tokens, interesting 32-bit integers in either byte order, long digit runs, runs of
/// 0x80-0xFF, truncation and case flips. All of it from the caller's seeded random.
/// </summary>
internal static class Mutator
{
    private static readonly byte[] Interesting =
        [0x00, 0x01, 0x7F, 0x80, 0xFF, 0xC0, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xFE,
         (byte)'\r', (byte)'\n', (byte)':', (byte)',', (byte)';', (byte)' ', (byte)'\t', (byte)'%', (byte)'"',
         (byte)'\\', (byte)'0', (byte)'9', (byte)'{', (byte)'}', (byte)'[', (byte)']', (byte)'/', (byte)'?', (byte)'='];

    private static readonly int[] InterestingInts =
        [0, 1, 2, -1, -2, -6, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0xFFFF, 0x10000, 64 * 1024, 1 << 20,
         0x7FFFFFF0, int.MaxValue, int.MinValue, unchecked((int)0xFFFFFFFA)];

    public static byte[] Mutate(byte[] input, Random random, IReadOnlyList<byte[]> corpus, IReadOnlyList<byte[]> dictionary, int maxLength)
    {
        var data = new List<byte>(input);
        for (var edits = 1 << random.Next(4); edits > 0; edits--)
            Edit(data, random, corpus, dictionary);
        if (data.Count > maxLength)
            data.RemoveRange(maxLength, data.Count - maxLength);
        return [.. data];
    }

    private static void Edit(List<byte> data, Random random, IReadOnlyList<byte[]> corpus, IReadOnlyList<byte[]> dictionary)
    {
        var at = random.Next(data.Count + 1); // a position, the end included
        var inside = data.Count == 0 ? -1 : random.Next(data.Count); // a byte, if there is one
        switch (random.Next(15))
        {
            case 0 when inside >= 0:
                data[inside] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when inside >= 0:
                data[inside] = (byte)random.Next(256);
                break;
            case 2 when inside >= 0:
                data[inside] = random.Pick(Interesting);
                break;
            case 3:
                data.InsertRange(at, random.Bytes(1 + random.Next(4)));
                break;
            case 4:
                data.Insert(at, random.Pick(Interesting));
                break;
            case 5 when inside >= 0:
                data.RemoveRange(inside, Math.Min(data.Count - inside, 1 + random.Next(16)));
                break;
            case 6 when inside >= 0:
            {
                // A run copied elsewhere, sometimes many times over: floods of lines or fields.
                var length = Math.Min(data.Count - inside, 1 + random.Next(64));
                var run = data.GetRange(inside, length);
                var times = random.Next(8) == 0 ? 1 + random.Next(200) : 1;
                for (var i = 0; i < times; i++)
                    data.InsertRange(at, run);
                break;
            }
            case 7 when corpus.Count > 0:
            {
                var other = random.Pick(corpus);
                var cut = random.Next(other.Length + 1);
                data.RemoveRange(at, data.Count - at);
                data.AddRange(other.AsSpan(cut).ToArray());
                break;
            }
            case 8 when dictionary.Count > 0:
            {
                var token = random.Pick(dictionary);
                if (random.Next(2) == 0 || inside < 0)
                    data.InsertRange(at, token);
                else
                    for (var i = 0; i < token.Length && inside + i < data.Count; i++)
                        data[inside + i] = token[i];
                break;
            }
            case 9:
            {
                var value = BitConverter.GetBytes(random.Pick(InterestingInts)); // little-endian
                if (random.Next(2) == 0)
                    Array.Reverse(value);
                if (data.Count >= 4 && random.Next(2) == 0)
                {
                    var start = random.Next(data.Count - 3);
                    for (var i = 0; i < 4; i++)
                        data[start + i] = value[i];
                }
                else
                    data.InsertRange(at, value);
                break;
            }
            case 10:
                data.InsertRange(at, Encoding.ASCII.GetBytes(random.Next(3) == 0
                    ? new string('9', random.Next(8) == 0 ? 1000 : 1 + random.Next(40))
                    : random.Digits(1 + random.Next(25))));
                break;
            case 11:
            {
                var run = new byte[1 + random.Next(16)];
                for (var i = 0; i < run.Length; i++)
                    run[i] = random.Next(3) == 0 ? (byte)0xFF : (byte)(0x80 + random.Next(128));
                data.InsertRange(at, run);
                break;
            }
            case 12 when inside >= 0:
                data.RemoveRange(inside, data.Count - inside);
                break;
            case 13 when inside >= 0:
                if (data[inside] is >= (byte)'A' and <= (byte)'Z' or >= (byte)'a' and <= (byte)'z')
                    data[inside] ^= 0x20;
                else
                {
                    var other = random.Next(data.Count);
                    (data[inside], data[other]) = (data[other], data[inside]);
                }
                break;
            default:
                data.InsertRange(at, random.Next(2) == 0 ? "\r\n"u8.ToArray() : "\r\n\r\n"u8.ToArray());
                break;
        }
    }
}

/// <summary>Small helpers the grammar-aware generators share.</summary>
internal static class RandomExtensions
{
    public static T Pick<T>(this Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    public static bool Chance(this Random random, int percent) => random.Next(100) < percent;

    public static byte[] Bytes(this Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    public static string Digits(this Random random, int length)
    {
        var digits = new char[length];
        for (var i = 0; i < length; i++)
            digits[i] = (char)('0' + random.Next(10));
        return new string(digits);
    }

    /// <summary>A length for a generated field: mostly small, sometimes large.</summary>
    public static int Size(this Random random, int small = 16, int large = 4096) =>
        random.Next(10) == 0 ? random.Next(large) : random.Next(small);
}
