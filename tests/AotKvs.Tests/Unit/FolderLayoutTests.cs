using System.Text.RegularExpressions;
using AotKvs.Tests.Support;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>
/// The service's folders depend one way (README, "Where the code is"): each folder uses only
/// the folders listed for it, so no two folders ever use each other.
/// </summary>
[Trait("Category", "Unit")]
public sealed partial class FolderLayoutTests
{
    private static readonly Dictionary<string, string[]> MayUse = new()
    {
        ["Configuration"] = [],
        ["Protocol"] = [],
        ["Storage"] = [],
        ["Operations"] = ["Configuration", "Protocol", "Storage"],
        ["Endpoints"] = ["Configuration", "Protocol", "Storage"],
        ["Forwarding"] = ["Configuration", "Protocol", "Operations"],
        ["Etcd"] = ["Configuration", "Storage", "Operations"],
        ["Durability"] = ["Configuration", "Storage", "Operations"],
    };

    [Fact]
    public void Every_folder_uses_only_the_folders_below_it()
    {
        var problems = new List<string>();
        foreach (var (folder, allowed) in MayUse)
        {
            var files = Directory.GetFiles(Path.Combine(ServerProcess.RepoRoot, folder), "*.cs");
            Assert.NotEmpty(files);
            foreach (var file in files)
                foreach (Match use in ProjectUsing().Matches(File.ReadAllText(file)))
                {
                    var used = use.Groups[1].Value;
                    if (used != folder && !allowed.Contains(used))
                        problems.Add($"{folder}/{Path.GetFileName(file)} uses {used}");
                }
        }
        Assert.Empty(problems);
    }

    [Fact]
    public void Every_service_folder_is_in_the_layout()
    {
        var folders = Directory.GetFiles(ServerProcess.RepoRoot, "*.cs", SearchOption.AllDirectories)
            .Select(file => Path.GetRelativePath(ServerProcess.RepoRoot, file).Split(Path.DirectorySeparatorChar))
            .Where(parts => parts.Length == 2)
            .Select(parts => parts[0])
            .Distinct();
        Assert.All(folders, folder => Assert.Contains(folder, MayUse.Keys));
    }

    /// <summary>"using AotKvs.X;" or a fully qualified "AotKvs.X." anywhere in the code.</summary>
    [GeneratedRegex(@"\bAotKvs\.(Configuration|Protocol|Storage|Operations|Endpoints|Forwarding|Etcd|Durability)\b")]
    private static partial Regex ProjectUsing();
}
