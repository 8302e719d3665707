using System.Globalization;
using System.Runtime.InteropServices;

namespace AotKvs.Storage.Log;

/// <summary>
/// The data dir: its exclusive lock and its files. Generation N has "log.N" (changes in
/// order) and, once compaction finishes, "snapshot.N" (every live key as of the switch to
/// log.N, with its version and deadline, so it replaces every older file). A snapshot is written as "snapshot.tmp" and
/// renamed into place only once it is whole and on disk.
/// </summary>
internal sealed class DataDirectory : IDisposable
{
    private const string LogPrefix = "log.";
    private const string SnapshotPrefix = "snapshot.";
    private const string TempSnapshot = "snapshot.tmp";
    private readonly FileStream _lock;

    private const string ScopeFile = "scope";
    private const int ScopeDigits = 16;

    private DataDirectory(string path, FileStream lockFile)
    {
        Path = path;
        _lock = lockFile;
        VersionScope = ReadOrCreateScope();
    }

    public string Path { get; }

    /// <summary>
    /// The data dir's id (16 hex digits in the file "scope"), made once with the dir: it names
    /// the versions numbered here. A dir from before versions, or one whose file is not 16 hex
    /// digits, gets a new one; a new name is always safe, as no tag of an old one then matches.
    /// </summary>
    public string VersionScope { get; }

    /// <summary>Creates the dir if needed and takes its lock (flock, held until dispose).</summary>
    /// <exception cref="DataDirException">the dir cannot be created, written or locked.</exception>
    public static DataDirectory Open(string path)
    {
        try
        {
            Directory.CreateDirectory(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new DataDirException($"data dir {path} cannot be created ({e.GetType().Name})");
        }
        var lockPath = System.IO.Path.Combine(path, "lock");
        try
        {
            // FileShare.None takes flock(LOCK_EX | LOCK_NB): one process per data dir.
            return new DataDirectory(path, new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1));
        }
        catch (UnauthorizedAccessException)
        {
            throw new DataDirException($"data dir {path} is not writable");
        }
        catch (IOException) when (File.Exists(lockPath))
        {
            throw new DataDirException($"data dir {path} is locked by another process");
        }
        catch (IOException e)
        {
            throw new DataDirException($"data dir {path} is not usable ({e.GetType().Name})");
        }
    }

    public string LogFile(int generation) => FileName(LogPrefix, generation);

    public string SnapshotFile(int generation) => FileName(SnapshotPrefix, generation);

    public string TempSnapshotFile => System.IO.Path.Combine(Path, TempSnapshot);

    public int[] LogGenerations() => Generations(LogPrefix);

    public int[] SnapshotGenerations() => Generations(SnapshotPrefix);

    /// <summary>Makes creations, renames and deletions in the dir durable (fsync on the dir itself).</summary>
    public void SyncDirectory()
    {
        var path = System.Text.Encoding.UTF8.GetBytes(Path + "\0");
        var fd = OpenReadOnly(ref path[0], 0 /* O_RDONLY */);
        if (fd < 0)
            throw new IOException($"cannot open {Path} to sync it (errno {Marshal.GetLastPInvokeError()})");
        try
        {
            if (Fsync(fd) != 0)
                throw new IOException($"fsync of {Path} failed (errno {Marshal.GetLastPInvokeError()})");
        }
        finally
        {
            _ = Close(fd);
        }
    }

    public void Dispose() => _lock.Dispose();

    /// <summary>Written beside, fsynced and renamed into place (then the dir fsynced): it is whole or absent.</summary>
    private string ReadOrCreateScope()
    {
        var path = System.IO.Path.Combine(Path, ScopeFile);
        if (File.Exists(path) && File.ReadAllText(path) is { Length: ScopeDigits } kept && kept.All(char.IsAsciiHexDigitLower))
            return kept;
        var scope = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(ScopeDigits / 2));
        var temp = path + ".tmp";
        using (var file = new FileStream(temp, FileMode.Create, FileAccess.Write, FileShare.None, 1))
        {
            file.Write(System.Text.Encoding.ASCII.GetBytes(scope));
            file.Flush(flushToDisk: true);
        }
        File.Move(temp, path, overwrite: true);
        SyncDirectory();
        return scope;
    }

    private string FileName(string prefix, int generation) =>
        System.IO.Path.Combine(Path, prefix + generation.ToString("D8", CultureInfo.InvariantCulture));

    private int[] Generations(string prefix)
    {
        var found = new List<int>();
        foreach (var file in Directory.EnumerateFiles(Path, prefix + "*"))
            if (int.TryParse(System.IO.Path.GetFileName(file.AsSpan())[prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out var generation))
                found.Add(generation);
        found.Sort();
        return [.. found];
    }

    // Plain blittable imports: no marshalling code and no unsafe blocks (LibraryImport needs both).
    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int OpenReadOnly(ref byte nulTerminatedPath, int flags);

    [DllImport("libc", EntryPoint = "fsync", SetLastError = true)]
    private static extern int Fsync(int fd);

    [DllImport("libc", EntryPoint = "close")]
    private static extern int Close(int fd);
}

/// <summary>A data dir that cannot be used: start-up stops with this one line.</summary>
internal sealed class DataDirException(string message) : Exception(message);
