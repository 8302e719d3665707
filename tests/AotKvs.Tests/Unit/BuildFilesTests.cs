using System.IO.Enumeration;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The image build copies files selectively: every top-level file that MSBuild or the SDK
/// reads must reach its restore layer, or `docker build` restores a different project than
/// every other build does.
/// </summary>
[Trait("Category", "Unit")]
public sealed class BuildFilesTests
{
    private static readonly string Root = ServerProcess.RepoRoot;

    private static IEnumerable<string> BuildFiles() =>
        Directory.GetFiles(Root)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(name => name.EndsWith(".props", StringComparison.Ordinal)
                || name.EndsWith(".targets", StringComparison.Ordinal)
                || name.Equals("global.json", StringComparison.Ordinal)
                || name.Equals("NuGet.config", StringComparison.OrdinalIgnoreCase))
            .Order();

    [Fact]
    public void Dockerfile_restore_layer_copies_every_build_file()
    {
        var files = BuildFiles().ToArray();
        Assert.Contains("Directory.Build.props", files);
        var copy = File.ReadLines(Path.Combine(Root, "Dockerfile")).First(l => l.StartsWith("COPY ", StringComparison.Ordinal));
        var copied = copy.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1..^1];
        Assert.Equal(files, copied.Where(f => f != "AotKvs.csproj").Order());
    }

    [Fact]
    public void Dockerignore_lets_every_build_file_in()
    {
        var patterns = File.ReadLines(Path.Combine(Root, ".dockerignore"))
            .Select(l => l.Trim())
            .Where(l => l.Length > 0 && !l.StartsWith('#'))
            .ToArray();
        foreach (var file in BuildFiles().Append("AotKvs.csproj").Append(".editorconfig"))
            Assert.DoesNotContain(patterns, p => FileSystemName.MatchesSimpleExpression(p.TrimStart('/').Replace("**/", ""), file));
    }

    [Fact]
    public void Sdk_stand_in_restores_with_the_same_build_files()
    {
        var script = File.ReadAllText(Path.Combine(Root, "scripts", "standins", "build-standins.sh"));
        foreach (var file in BuildFiles())
            Assert.Contains(file, script);
    }
}
