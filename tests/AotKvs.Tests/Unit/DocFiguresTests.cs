using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The binary's and the image's sizes are measured once, in README's "Measured figures" row
/// <c>| binary; image | …</c>; every other statement of them in README.md and docs/*.md must
/// say the same. What counts as a statement, and what not, is <see cref="DocFigures"/>'s.
/// </summary>
[Trait("Category", "Unit")]
public sealed class DocFiguresTests
{
    private static string Root => ServerProcess.RepoRoot;

    private static DocFigures.Measured Measured() =>
        DocFigures.ReadMeasured(File.ReadAllText(Path.Combine(Root, "README.md")));

    private static IEnumerable<string> Docs() =>
        new[] { Path.Combine(Root, "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(Root, "docs"), "*.md").Order(StringComparer.Ordinal));

    [Fact]
    public void README_measured_row_is_consistent_with_itself()
    {
        var m = Measured();
        // The byte count, the MB figure, and base + layer tell one story.
        Assert.Equal(m.ImageMb, Math.Round(m.ImageBytes / 1_000_000m, 1, MidpointRounding.AwayFromZero));
        Assert.Equal(m.BinaryMb, m.LayerMb);
        Assert.InRange(m.BaseMb + m.LayerMb - m.ImageMb, -0.1m, 0.1m);
    }

    [Fact]
    public void Every_binary_and_image_size_in_README_and_the_docs_agrees_with_README_measured_row()
    {
        var m = Measured();
        var statements = Docs()
            .SelectMany(path => DocFigures.Find(Path.GetRelativePath(Root, path), File.ReadAllText(path)))
            .ToList();
        // Not vacuous: README's row itself (its layer) and docs/containers.md state sizes.
        Assert.Contains(statements, s => s.File == "README.md");
        Assert.Contains(statements, s => s.File == Path.Combine("docs", "containers.md"));
        var wrong = DocFigures.Disagreeing(m, statements).ToList();
        Assert.True(wrong.Count == 0,
            $"README measures binary {m.BinaryMb} MB, image {m.ImageMb} MB ({m.ImageBytes:N0} B); these say otherwise:\n"
            + string.Join('\n', wrong.Select(s => s.ToString())));
    }

    [Fact]
    public void Negative_control_a_disagreeing_text_is_reported()
    {
        var m = DocFigures.ReadMeasured(
            "| binary; image | 11.3 MB; 24.0 MB (23,998,831 B: 12.7 MB base stand-in + 11.3 MB layer). |\n");
        const string Stale = """
            Measured on the CI machine, after the binary shrank to
            11.8 MB; ranges include earlier runs.

            | what | measured |
            | --- | --- |
            | image size | 24.5 MB: 12.7 MB base (stand-in) + 11.8 MB binary layer |

            The image is 24.0 MB (23,998,830 B), the binary 12.3 MB → 11.4 MB.
            """;
        var wrong = DocFigures.Disagreeing(m, DocFigures.Find("stale.md", Stale)).ToList();
        Assert.Equal(
            new[]
            {
                "stale.md:2: binary 11.8 MB",
                "stale.md:6: image 24.5 MB",
                "stale.md:6: binary 11.8 MB",
                "stale.md:8: image bytes 23,998,830 B",
                "stale.md:8: binary 11.4 MB",
            },
            wrong.Select(s => $"{s.File}:{s.Line}: {s.What} {s.Stated}"));
    }

    [Fact]
    public void Negative_control_agreeing_figures_history_differences_and_budgets_are_not_reported()
    {
        var m = DocFigures.ReadMeasured(
            "| binary; image | 11.3 MB; 24.0 MB (23,998,831 B: 12.7 MB base stand-in + 11.3 MB layer). |\n");
        const string Fine = """
            The image is 24.0 MB (23,998,831 B) and the binary 11.3 MB; a 24 MB image.
            The image budget (25 MB, with the binary at 11.9 MB and the image at 24.6 MB before)
            ruled the library out. FasterLog added +1.55 MB to the binary, a tenth of the 25 MB
            image budget; leaving it unset removed Brotli and zlib from the binary: −1.07 MB.
            The binary was 12.4 MB then.

            | binary size | | +0.09 MB (11,935,296 → 12,022,224 B) |
            | image budget (25 MB; the image was 24.6 MB then) | over it (about 26.1 MB) |

            ```
            binary 99.9 MB (inside a code block: not prose)
            ```
            """;
        var found = DocFigures.Find("fine.md", Fine).ToList();
        // The current figures are found (so the silence below is not blindness) ...
        Assert.Equal(
            new[] { "image 24.0 MB", "image bytes 23,998,831 B", "binary 11.3 MB", "image 24 MB" },
            found.Select(s => $"{s.What} {s.Stated}"));
        // ... and none of them disagrees.
        Assert.Empty(DocFigures.Disagreeing(m, found));
    }
}

/// <summary>
/// Finds statements of the binary's and the image's size in Markdown text.
/// <list type="bullet">
/// <item>"binary" or "image" followed within a clause by a figure in MB ("the binary shrank to
/// 11.8 MB", "image 24.0 MB (23,998,831 B)", "image at 24.6 MB"), or a figure in MB followed by
/// "binary", "image" or "layer" ("11.8 MB binary layer", "11.3 MB layer");</item>
/// <item>a table row whose first cell is "binary", "image", "binary size" or "image size": the
/// first MB figure of the next filled cell;</item>
/// <item>a byte count in brackets right after an image's MB figure, or right after "image".</item>
/// </list>
/// Not statements of size: a figure with a sign stuck to it (+0.09 MB, −1.07 MB: a difference),
/// a clause with "added", "adds", "saves", "larger" or "smaller" (a difference), a budget ("the
/// 25 MB image budget"), a clause marked as past ("before", "then", "was", "were", "earlier",
/// "previous", "at the time"), the first figure of "12.3 MB → 11.4 MB" (the second is checked),
/// and fenced code blocks. A sentence is joined across line breaks; a table row is one line.
/// </summary>
internal static partial class DocFigures
{
    internal sealed record Measured(decimal BinaryMb, decimal ImageMb, long ImageBytes, decimal BaseMb, decimal LayerMb);

    internal sealed record Statement(string File, int Line, string What, string Stated, string Text)
    {
        public override string ToString() => $"{File}:{Line}: {What} {Stated} in \"{Text}\"";
    }

    [GeneratedRegex(@"^\|\s*binary; image\s*\|\s*(?<bin>\d+\.\d+) MB; (?<img>\d+\.\d+) MB \((?<bytes>\d{1,3}(?:,\d{3})+) B: (?<base>\d+\.\d+) MB base[^+|]*\+ (?<layer>\d+\.\d+) MB layer\)", RegexOptions.Multiline)]
    private static partial Regex MeasuredRow();

    // A number: not part of a longer number or word; an optional sign stuck to it.
    private const string Mb = @"(?<![\w.,])(?<sign>[+\-−±])?(?<mb>\d+(?:\.\d+)?)\s?MB\b";
    private const string Arrow = @"(?:\s*(?:→|->)\s*(?<after>\d+(?:\.\d+)?)\s?MB\b)?";
    private const string Bytes = @"(?:\s*\((?<bytes>\d{1,3}(?:,\d{3})+)\s?B\b)?";
    // What may stand between the word and its figure: no clause end, no other number.
    private const string Gap = @"(?<gap>[^.;|()\d]{0,40}?)";

    [GeneratedRegex(@"\b(?<word>binary|image)\b" + Gap + Mb + Arrow + Bytes, RegexOptions.IgnoreCase)]
    private static partial Regex WordThenFigure();

    [GeneratedRegex(@"\bimage\b" + Gap + @"(?<bytes>\d{1,3}(?:,\d{3})+)\s?(?:B|bytes)\b", RegexOptions.IgnoreCase)]
    private static partial Regex WordThenBytes();

    [GeneratedRegex(Mb + @"\s+(?<word>binary|image|layer)\b(?!\s+budget)", RegexOptions.IgnoreCase)]
    private static partial Regex FigureThenWord();

    [GeneratedRegex(@"^(?:the )?(?<word>binary|image)(?: size)?$", RegexOptions.IgnoreCase)]
    private static partial Regex SizeCell();

    [GeneratedRegex(@"\b(?:before|then|was|were|earlier|previous|previously|formerly|at the time)\b", RegexOptions.IgnoreCase)]
    private static partial Regex Past();

    [GeneratedRegex(@"\b(?:budget|added|adds|saves?|larger|smaller)\b", RegexOptions.IgnoreCase)]
    private static partial Regex NotASize();

    internal static Measured ReadMeasured(string readme)
    {
        var match = MeasuredRow().Match(readme);
        Assert.True(match.Success,
            "README's measured table has no row '| binary; image | B MB; I MB (N B: X MB base … + L MB layer) |'");
        decimal D(string group) => decimal.Parse(match.Groups[group].Value, CultureInfo.InvariantCulture);
        return new Measured(D("bin"), D("img"),
            long.Parse(match.Groups["bytes"].Value.Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture),
            D("base"), D("layer"));
    }

    internal static IEnumerable<Statement> Find(string file, string markdown)
    {
        foreach (var (text, lineAt) in Segments(markdown))
        {
            var found = new List<(int At, Statement S)>();
            void Add(int at, string what, string stated) =>
                found.Add((at, new Statement(file, lineAt(at), what, stated, Excerpt(text, at))));

            if (text.StartsWith('|'))
            {
                var cells = text.Split('|')[1..^1];
                var cell = cells.Length > 0 ? SizeCell().Match(cells[0].Replace("`", "", StringComparison.Ordinal).Replace("*", "", StringComparison.Ordinal).Trim()) : Match.Empty;
                var next = cells.Skip(1).FirstOrDefault(c => c.Trim().Length > 0);
                if (cell.Success && next is not null)
                {
                    var figure = Regex.Match(next, Mb);
                    if (figure.Success && !figure.Groups["sign"].Success && !Past().IsMatch(next))
                        Add(text.IndexOf(next, StringComparison.Ordinal) + figure.Index, cell.Groups["word"].Value.ToLowerInvariant(), figure.Groups["mb"].Value + " MB");
                }
            }

            foreach (Match m in WordThenFigure().Matches(text))
            {
                var word = m.Groups["word"].Value.ToLowerInvariant();
                var context = m.Groups["gap"].Value + Tail(text, m.Index + m.Length);
                if (m.Groups["sign"].Success || NotASize().IsMatch(context) || Past().IsMatch(context))
                    continue;
                var mb = m.Groups["after"].Success ? m.Groups["after"] : m.Groups["mb"];
                Add(mb.Index, word, mb.Value + " MB");
                if (word == "image" && m.Groups["bytes"].Success)
                    Add(m.Groups["bytes"].Index, "image bytes", m.Groups["bytes"].Value + " B");
            }

            foreach (Match m in WordThenBytes().Matches(text))
            {
                var context = m.Groups["gap"].Value + Tail(text, m.Index + m.Length);
                if (!NotASize().IsMatch(context) && !Past().IsMatch(context))
                    Add(m.Groups["bytes"].Index, "image bytes", m.Groups["bytes"].Value + " B");
            }

            foreach (Match m in FigureThenWord().Matches(text))
            {
                var context = Head(text, m.Index) + Tail(text, m.Index + m.Length);
                if (m.Groups["sign"].Success || NotASize().IsMatch(context) || Past().IsMatch(context))
                    continue;
                var word = m.Groups["word"].Value.ToLowerInvariant();
                Add(m.Groups["mb"].Index, word == "image" ? "image" : "binary", m.Groups["mb"].Value + " MB");
            }

            // One statement per place (a row's cell rule and a prose rule may find the same figure).
            foreach (var s in found.GroupBy(f => (f.At, f.S.What)).Select(g => g.First()).OrderBy(f => f.At))
                yield return s.S;
        }
    }

    internal static IEnumerable<Statement> Disagreeing(Measured m, IEnumerable<Statement> statements) =>
        statements.Where(s => s.What switch
        {
            "binary" => !SameAtStatedPrecision(s.Stated, m.BinaryMb),
            "image" => !SameAtStatedPrecision(s.Stated, m.ImageMb),
            _ => long.Parse(s.Stated[..^2].Replace(",", "", StringComparison.Ordinal), CultureInfo.InvariantCulture) != m.ImageBytes,
        });

    // "24 MB" agrees with 24.0, "11.3 MB" with 11.3; "12 MB" does not agree with 11.3.
    private static bool SameAtStatedPrecision(string stated, decimal measured)
    {
        var number = stated[..^3];
        var decimals = number.Contains('.', StringComparison.Ordinal) ? number.Length - number.IndexOf('.', StringComparison.Ordinal) - 1 : 0;
        return decimal.Parse(number, CultureInfo.InvariantCulture) == Math.Round(measured, decimals, MidpointRounding.AwayFromZero);
    }

    // The rest of the clause after a match, and the clause before one, up to , ; . | or a bracket.
    private static string Tail(string text, int from)
    {
        var end = ClauseEnd().Match(text, from);
        return text[from..(end.Success ? end.Index : text.Length)];
    }

    // A decimal point (11.3) does not end a clause.
    [GeneratedRegex(@"[,;|()]|\.(?!\d)")]
    private static partial Regex ClauseEnd();

    private static string Head(string text, int to)
    {
        var start = text.LastIndexOfAny([',', ';', '|', '(', ')'], Math.Max(0, to - 1));
        var sentence = text.LastIndexOf(". ", Math.Max(0, to - 1), StringComparison.Ordinal);
        start = Math.Max(start, sentence);
        return text[(start < 0 ? 0 : start)..to];
    }

    private static string Excerpt(string text, int at)
    {
        var start = Math.Max(0, at - 60);
        var end = Math.Min(text.Length, at + 40);
        return (start > 0 ? "…" : "") + text[start..end] + (end < text.Length ? "…" : "");
    }

    /// <summary>
    /// Paragraphs joined into one line each (a sentence may break anywhere), table rows one
    /// by one, fenced code left out; with each segment a map from an index in it to its line.
    /// </summary>
    private static IEnumerable<(string Text, Func<int, int> LineAt)> Segments(string markdown)
    {
        var lines = markdown.ReplaceLineEndings("\n").Split('\n');
        var paragraph = new StringBuilder();
        var starts = new List<(int Offset, int Line)>();
        var fenced = false;

        (string, Func<int, int>) Take()
        {
            var text = paragraph.ToString();
            var map = starts.ToArray();
            paragraph.Clear();
            starts.Clear();
            return (text, at => map.Last(s => s.Offset <= at).Line);
        }

        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].Trim();
            if (line.StartsWith("```", StringComparison.Ordinal))
                fenced = !fenced;
            var ends = fenced || line.Length == 0 || line.StartsWith('|') || line.StartsWith('#') || line.StartsWith("```", StringComparison.Ordinal);
            if (ends && paragraph.Length > 0)
                yield return Take();
            if (fenced || line.StartsWith("```", StringComparison.Ordinal) || line.Length == 0)
                continue;
            if (line.StartsWith('|') || line.StartsWith('#'))
            {
                var row = i + 1;
                yield return (line, _ => row);
                continue;
            }
            if (paragraph.Length > 0)
                paragraph.Append(' ');
            starts.Add((paragraph.Length, i + 1));
            paragraph.Append(line);
        }
        if (paragraph.Length > 0)
            yield return Take();
    }
}
