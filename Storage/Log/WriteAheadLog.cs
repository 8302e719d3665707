using System.Diagnostics;
using AotKvs.Configuration;
using AotKvs.Storage.Memory;

namespace AotKvs.Storage.Log;

/// <summary>
/// The log and its one writer thread (group commit). Changes are appended to a pending
/// buffer under <see cref="Gate"/>; the writer takes everything pending at once, writes it
/// with one write(), and with --sync always makes it durable with one fsync before the
/// batch's waiters are answered. While it writes, the next batch fills, so concurrent
/// writers share each fsync. With --sync periodic the batch is answered once written (a
/// process crash keeps it) and fsync runs at most every interval. The writer also starts
/// compaction (<see cref="Snapshotter"/>) when the logs outgrow the last snapshot.
/// </summary>
internal sealed class WriteAheadLog : IDisposable
{
    private const int BufferBytes = 64 * 1024;
    private const int LargestKeptBufferBytes = 4 * 1024 * 1024;
    private const int StragglerYields = 8;

    private readonly DataDirectory _dir;
    private readonly DurabilitySettings _settings;
    private readonly Snapshotter _snapshotter;
    private readonly ILogger _logger;
    private readonly ManualResetEventSlim _work = new();
    private readonly Thread _writer;

    // Guarded by Gate.
    private byte[] _pending = new byte[BufferBytes];
    private int _pendingLength;
    private long _sequence;
    private Batch _open = new();
    private Batch? _writing;
    private bool _stopping;
    private bool _failed;

    // The writer thread's own.
    private FileStream _log;
    private int _generation;
    private byte[] _spare = new byte[BufferBytes];
    private Task? _compaction;

    private long _durable;
    private long _logBytes;
    private long _lastFlushMicroseconds;
    private long _batches;

    public WriteAheadLog(DataDirectory dir, DurabilitySettings settings, MemoryStore memory, RecoveryResult recovered, ILogger logger)
    {
        _dir = dir;
        _settings = settings;
        _logger = logger;
        _generation = recovered.Generation;
        _logBytes = recovered.LogBytes;
        _snapshotter = new Snapshotter(dir, memory, recovered.SnapshotBytes);
        _log = OpenLog(_generation);
        _writer = new Thread(Run) { IsBackground = true, Name = "kvs-log-writer" };
        _writer.Start();
    }

    /// <summary>Held while a change is applied to memory and appended here, so both see the same order.</summary>
    public Lock Gate { get; } = new();

    public long LogBytes => Interlocked.Read(ref _logBytes);
    public long SnapshotBytes => _snapshotter.SnapshotBytes;
    public long Compactions => _snapshotter.Compactions;
    public long LastFlushMicroseconds => Interlocked.Read(ref _lastFlushMicroseconds);
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>True once the disk has failed: nothing more is acknowledged or read.</summary>
    public bool Failed => Volatile.Read(ref _failed);

    /// <summary>
    /// Appends one record (the caller holds <see cref="Gate"/>); the task ends once it is as
    /// durable as --sync says. <paramref name="deadline"/>: for <see cref="RecordKind.ExpiringPut"/>.
    /// </summary>
    public long Append(RecordKind kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, ulong version, long deadline, out Task committed)
    {
        if (_failed || _stopping)
            throw new StoreException(StoreFailure.Unavailable, "the data dir's log is closed");
        var size = LogRecord.Size(kind, key.Length, value.Length);
        if (_pendingLength + size > _pending.Length)
            Array.Resize(ref _pending, Math.Max(_pending.Length * 2, _pendingLength + size));
        _pendingLength += LogRecord.Write(_pending.AsSpan(_pendingLength), kind, key, value, version, deadline);
        if (_pendingLength == size)
            _work.Set();
        committed = _open.Done.Task;
        return ++_sequence;
    }

    /// <summary>Completes once the change numbered <paramref name="sequence"/> is as durable as an answer needs.</summary>
    public Task WaitFor(long sequence)
    {
        if (sequence <= Volatile.Read(ref _durable))
            return Task.CompletedTask;
        lock (Gate)
        {
            if (sequence <= _durable)
                return Task.CompletedTask;
            return _writing is { } writing && sequence <= writing.Last ? writing.Done.Task : _open.Done.Task;
        }
    }

    public bool IsDurable(long sequence) => sequence <= Volatile.Read(ref _durable);

    private void Run()
    {
        var periodic = _settings.Sync == SyncMode.Periodic;
        var lastSync = Stopwatch.GetTimestamp();
        var unsynced = false;
        var stopping = false;
        Batch? batch = null;
        try
        {
            while (true)
            {
                if (unsynced && !stopping)
                    _work.Wait(TimeSpan.FromTicks(Math.Max(0, (_settings.SyncInterval - Stopwatch.GetElapsedTime(lastSync)).Ticks)));
                else if (!stopping) // once stopping, no more waiting: write what is left, then end
                    _work.Wait();
                _work.Reset();
                if (!periodic && !stopping)
                    GatherStragglers();

                byte[] data;
                int length;
                lock (Gate)
                {
                    stopping = _stopping;
                    data = _pending;
                    length = _pendingLength;
                    batch = null;
                    if (length > 0)
                    {
                        batch = _writing = _open;
                        batch.Last = _sequence;
                        _open = new Batch();
                        _pending = _spare;
                        _pendingLength = 0;
                    }
                }

                if (batch is not null)
                {
                    var started = Stopwatch.GetTimestamp();
                    _log.Write(data, 0, length);
                    if (periodic)
                        unsynced = true;
                    else
                        _log.Flush(flushToDisk: true);
                    Interlocked.Exchange(ref _lastFlushMicroseconds, (long)Stopwatch.GetElapsedTime(started).TotalMicroseconds);
                    Interlocked.Add(ref _logBytes, length);
                    Interlocked.Increment(ref _batches);
                    _spare = data.Length > LargestKeptBufferBytes ? new byte[BufferBytes] : data;
                    Volatile.Write(ref _durable, batch.Last);
                    // One hop for the whole batch: its answers are written on a pool thread
                    // while this one goes straight on to the next write and fsync.
                    ThreadPool.UnsafeQueueUserWorkItem(static done => done.Done.SetResult(), batch, preferLocal: false);
                    batch = null;
                }
                if (unsynced && (stopping || Stopwatch.GetElapsedTime(lastSync) >= _settings.SyncInterval))
                {
                    _log.Flush(flushToDisk: true);
                    lastSync = Stopwatch.GetTimestamp();
                    unsynced = false;
                }
                if (stopping)
                {
                    if (length == 0)
                        return;
                    continue;
                }
                MaybeCompact();
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Fail(e, batch);
        }
    }

    /// <summary>
    /// Before an fsync, lets the writers already on their way append to this batch: the CPU
    /// is yielded while the batch still grows (a few microseconds), so more changes share
    /// each fsync instead of waiting for the next one.
    /// </summary>
    private void GatherStragglers()
    {
        var seen = Volatile.Read(ref _pendingLength);
        for (var i = 0; i < StragglerYields; i++)
        {
            Thread.Yield();
            var now = Volatile.Read(ref _pendingLength);
            if (now == seen)
                return;
            seen = now;
        }
    }

    /// <summary>
    /// Once the logs outgrow both the floor and the last snapshot, switch to a new log and
    /// snapshot memory in the background: disk stays within about twice the live data, and
    /// each byte is rewritten about once per doubling.
    /// </summary>
    private void MaybeCompact()
    {
        if (_compaction is { IsCompleted: false })
            return;
        if (_compaction is { IsFaulted: true } failed)
            _logger.LogError("Compaction failed, retried later: {Error}", failed.Exception!.InnerException!.Message);
        _compaction = null;
        var logBytes = LogBytes;
        if (logBytes < _settings.CompactMinBytes || logBytes < _snapshotter.SnapshotBytes)
            return;

        // Every change from here on goes to the new log; the snapshot covers all before it.
        _log.Flush(flushToDisk: true);
        _log.Dispose();
        _log = OpenLog(++_generation);
        _dir.SyncDirectory();
        var generation = _generation;
        _compaction = Task.Run(() => Interlocked.Add(ref _logBytes, -_snapshotter.Write(generation)));
    }

    private FileStream OpenLog(int generation) =>
        new(_dir.LogFile(generation), FileMode.Append, FileAccess.Write, FileShare.Read, 1);

    private void Fail(Exception e, Batch? batch)
    {
        _logger.LogCritical("The data dir's log cannot be written ({Error}); every request now gets 503 until restart", e.Message);
        var refusal = new StoreException(StoreFailure.Unavailable, "the data dir's log failed", e);
        Batch open;
        lock (Gate)
        {
            Volatile.Write(ref _failed, true);
            open = _open;
        }
        // Outside the lock: the waiters' continuations run right here.
        batch?.Done.TrySetException(refusal);
        open.Done.TrySetException(refusal);
    }

    public void Dispose()
    {
        lock (Gate)
            _stopping = true;
        _work.Set();
        _writer.Join(TimeSpan.FromSeconds(10));
        try
        {
            _compaction?.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
            // A snapshot that did not finish is ignored at the next start.
        }
        _log.Dispose();
    }

    /// <summary>
    /// The waiters' continuations (the rest of each PUT: writing its answer) run one after
    /// another on the thread that completes the batch, without a hop through the thread pool
    /// per request; none of them blocks, and a new change only appends and awaits the next batch.
    /// </summary>
    private sealed class Batch
    {
        public readonly TaskCompletionSource Done = new();
        public long Last;
    }
}
