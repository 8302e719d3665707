using System.Text.RegularExpressions;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The service's folders depend one way (README, "Where the code is"): each folder uses only
/// the folders listed for it, so no two folders ever use each other. A folder inside another
/// (Storage/Log, Forwarding/Client) is a room of its own: it may use its parent only where
/// listed, which C# would otherwise allow silently (a parent namespace needs no using).
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class FolderLayoutTests
{
    private static readonly Dictionary<string, string[]> MayUse = new()
    {
        ["Configuration"] = [],
        ["Protocol"] = [],
        ["Operations"] = ["Configuration", "Protocol"],
        ["Storage"] = [],
        ["Storage/Memory"] = ["Storage", "Operations"],
        ["Storage/Log"] = ["Configuration", "Storage", "Storage/Memory", "Operations"],
        ["Storage/Etcd"] = ["Configuration", "Protocol", "Storage", "Operations"],
        ["Endpoints"] = ["Configuration", "Protocol", "Storage", "Operations"],
        ["Forwarding/Client"] = ["Configuration", "Protocol"],
        ["Forwarding/Pipelining"] = ["Protocol", "Forwarding/Client"],
        ["Forwarding"] = ["Configuration", "Protocol", "Operations", "Forwarding/Client", "Forwarding/Pipelining"],
    };

    [Fact]
    public void Every_folder_uses_only_the_folders_below_it()
    {
        var problems = new List<string>();
        foreach (var (folder, allowed) in MayUse)
            foreach (var file in FilesOf(folder))
                foreach (var used in FoldersUsedBy(file))
                    if (used != folder && !allowed.Contains(used))
                        problems.Add($"{folder}/{Path.GetFileName(file)} uses {used}");
        Assert.Empty(problems);
    }

    [Fact]
    public void Every_service_folder_is_in_the_layout()
    {
        var folders = Directory.GetFiles(ServerProcess.RepoRoot, "*.cs", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(ServerProcess.RepoRoot, Path.GetDirectoryName(file)!).Replace('\\', '/'))
            .Where(folder => folder != "." && !folder.StartsWith("tests", StringComparison.Ordinal) && !folder.StartsWith("bench", StringComparison.Ordinal)
                && !folder.Split('/').Any(part => part is "bin" or "obj" or "artifacts"))
            .Distinct();
        Assert.All(folders, folder => Assert.Contains(folder, MayUse.Keys));
    }

    /// <summary>The check itself: a room that names a type of its parent room is caught (a negative control).</summary>
    [Fact]
    public void A_room_that_uses_its_parent_without_a_using_is_caught()
    {
        var parentTypes = TypesOf("Forwarding");
        Assert.Contains("UpstreamReport", parentTypes);
        Assert.Contains("Forwarding", UsedParents("Forwarding/Pipelining", "    private readonly UpstreamReport _report;", parentTypes));
        Assert.Empty(UsedParents("Forwarding/Pipelining", "    private readonly Action<int> _batchSent;", parentTypes));
    }

    /// <summary>Every folder a file uses: by a using or a qualified name, or (for an inner room) by naming its parent's types.</summary>
    private static IEnumerable<string> FoldersUsedBy(string file)
    {
        var text = File.ReadAllText(file);
        var folder = Path.GetRelativePath(ServerProcess.RepoRoot, Path.GetDirectoryName(file)!).Replace('\\', '/');
        var used = ProjectUsing().Matches(text).Select(use => use.Groups[1].Value.Replace('.', '/')).ToHashSet();
        if (folder.LastIndexOf('/') is var cut and > 0)
            used.UnionWith(UsedParents(folder, text, TypesOf(folder[..cut])));
        return used;
    }

    private static IEnumerable<string> UsedParents(string folder, string text, IReadOnlySet<string> parentTypes)
    {
        var parent = folder[..folder.LastIndexOf('/')];
        return Identifier().Matches(StripComments(text)).Any(name => parentTypes.Contains(name.Value)) ? [parent] : [];
    }

    private static IReadOnlySet<string> TypesOf(string folder) =>
        FilesOf(folder).SelectMany(file => TypeDeclaration().Matches(File.ReadAllText(file)).Select(m => m.Groups[1].Value)).ToHashSet();

    private static string[] FilesOf(string folder)
    {
        var files = Directory.GetFiles(Path.Combine(ServerProcess.RepoRoot, folder), "*.cs");
        Assert.NotEmpty(files);
        return files;
    }

    private static string StripComments(string text) => Comment().Replace(text, "");

    /// <summary>"using AotKvs.X;" or a fully qualified "AotKvs.X." anywhere in the code (X may be X.Y).</summary>
    [GeneratedRegex(@"\bAotKvs\.((?:Configuration|Protocol|Storage|Operations|Endpoints|Forwarding)(?:\.(?:Memory|Log|Etcd|Client|Pipelining))?)\b")]
    private static partial Regex ProjectUsing();

    [GeneratedRegex(@"\b(?:class|struct|enum|record|interface)\s+(\w+)")]
    private static partial Regex TypeDeclaration();

    [GeneratedRegex(@"\b[A-Z]\w*\b")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"//[^\n]*")]
    private static partial Regex Comment();
}
