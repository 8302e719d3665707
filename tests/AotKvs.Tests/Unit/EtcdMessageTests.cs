using System.Diagnostics.Metrics;
using System.Text;
using AotKvs.Configuration;
using AotKvs.Storage;
using AotKvs.Storage.Etcd;
using Microsoft.Extensions.DependencyInjection;
using Xunit;

namespace AotKvs.Tests.Unit;

/// <summary>KVS_STORE's parsing, and etcd's gRPC messages (protobuf in gRPC frames, <c>EtcdProto</c>) as this store writes and reads them.</summary>
[Trait("Category", "Unit")]
public sealed class EtcdMessageTests
{
    [Theory]
    [InlineData("etcd://127.0.0.1:2379", "http://127.0.0.1:2379/")]
    [InlineData("etcd://a:1, b:2 ,c:3", "http://a:1/ http://b:2/ http://c:3/")]
    [InlineData("etcd+https://etcd-0.example:2379", "https://etcd-0.example:2379/")]
    [InlineData("ETCD://[::1]:2379", "http://[::1]:2379/")]
    public void Store_endpoints_parse(string value, string expected) =>
        Assert.Equal(expected, string.Join(' ', StoreSettings.ParseEndpoints(value)));

    [Theory]
    [InlineData("etcd://")]
    [InlineData("etcd://a")]
    [InlineData("etcd://a:1,,b:2")]
    [InlineData("etcd://a:1/x")]
    [InlineData("etcd://a:99999")]
    [InlineData("http://a:1")]
    [InlineData("etcd+http://a:1")]
    public void Bad_store_values_are_refused_with_the_setting_named(string value) =>
        Assert.Contains("KVS_STORE", Assert.Throws<InvalidSettingException>(() => StoreSettings.ParseEndpoints(value)).Message);

    [Fact]
    public void A_put_is_a_grpc_frame_of_key_value_and_prev_kv()
    {
        // PutRequest{key: "/p/a" (field 1), value: "[1]" (field 2), prev_kv: true (field 4)}
        byte[] expected = [0, 0, 0, 0, 13, 0x0A, 4, .. "/p/a"u8, 0x12, 3, .. "[1]"u8, 0x20, 1];
        Assert.Equal(expected, EtcdProto.Put("/p/"u8, "a"u8, "[1]"u8));
        Assert.Equal([0, 0, 0, 0, 6, 0x0A, 4, .. "/p/b"u8], EtcdProto.KeyOnly("/p/"u8, "b"u8));

        var longKey = EtcdProto.KeyOnly("/p/"u8, new byte[200]); // a length of two varint bytes
        Assert.Equal(new byte[] { 0x0A, 0xCB, 0x01 }, longKey[5..8]);
        Assert.Equal(5 + 3 + 203, longKey.Length);
    }

    [Fact]
    public void Answers_are_read_as_etcd_writes_them()
    {
        byte[] header = [0x0A, 6, 0x08, 1, 0x10, 2, 0x18, 9]; // ResponseHeader{cluster_id, member_id, revision}
        static byte[] Frame(byte[] message) => [0, 0, 0, 0, (byte)message.Length, .. message];

        Assert.Null(EtcdProto.RangeValue(Frame(header)));
        byte[] kv = [0x0A, 1, (byte)'a', 0x10, 5, 0x18, 9, 0x20, 2, 0x2A, 5, .. "[1,2]"u8];
        Assert.Equal("[1,2]", Encoding.UTF8.GetString(EtcdProto.RangeValue(Frame([.. header, 0x12, (byte)kv.Length, .. kv, 0x20, 1]))!));

        Assert.False(EtcdProto.HasPreviousValue(Frame(header)));
        Assert.True(EtcdProto.HasPreviousValue(Frame([.. header, 0x12, (byte)kv.Length, .. kv])));

        Assert.Equal(0, EtcdProto.Deleted(Frame(header)));
        Assert.Equal(1, EtcdProto.Deleted(Frame([.. header, 0x10, 1])));
        Assert.Equal("tok.42", EtcdProto.Token(Frame([.. header, 0x12, 6, .. "tok.42"u8])));

        Assert.Throws<FormatException>(() => EtcdProto.Deleted([0, 0, 0, 0, 9, 0x0A, 6, 0x08]));  // cut short
        Assert.Throws<FormatException>(() => EtcdProto.Deleted([1, 0, 0, 0, 0]));                 // compressed
    }

    [Fact]
    public void A_txn_is_compares_on_mod_revision_then_the_change_then_a_range_on_failure()
    {
        // TxnRequest{compare: [{result EQUAL, target MOD, key, mod_revision 5}], success: [{request_put}], failure: [{request_range}]}
        byte[] compare = [0x0A, 12, 0x08, 0, 0x10, 2, 0x1A, 4, .. "/p/a"u8, 0x30, 5];
        byte[] success = [0x12, 15, 0x12, 13, 0x0A, 4, .. "/p/a"u8, 0x12, 3, .. "[1]"u8, 0x20, 1];
        byte[] failure = [0x1A, 8, 0x0A, 6, 0x0A, 4, .. "/p/a"u8];
        Assert.Equal([0, 0, 0, 0, 41, .. compare, .. success, .. failure],
            EtcdProto.Txn("/p/"u8, "a"u8, [new RevisionCompare(CompareResult.Equal, 5)], delete: false, "[1]"u8));

        // A delete, two compares (≠ 300, a two-byte varint; > 0), request_delete_range (3).
        byte[] notEqual = [0x0A, 13, 0x08, 3, 0x10, 2, 0x1A, 4, .. "/p/a"u8, 0x30, 0xAC, 0x02];
        byte[] greater = [0x0A, 12, 0x08, 1, 0x10, 2, 0x1A, 4, .. "/p/a"u8, 0x30, 0];
        byte[] delete = [0x12, 8, 0x1A, 6, 0x0A, 4, .. "/p/a"u8];
        Assert.Equal([0, 0, 0, 0, 15 + 14 + 10 + 10, .. notEqual, .. greater, .. delete, .. failure],
            EtcdProto.Txn("/p/"u8, "a"u8, [new(CompareResult.NotEqual, 300), new(CompareResult.Greater, 0)], delete: true, default));
    }

    [Fact]
    public void Headers_revisions_and_txn_answers_are_read_as_etcd_writes_them()
    {
        byte[] header = [0x0A, 9, 0x08, 0xAC, 0x02, 0x10, 2, 0x18, 9, 0x20, 1]; // cluster_id 300, member_id, revision 9, raft_term
        static byte[] Frame(byte[] message) => [0, 0, 0, 0, (byte)message.Length, .. message];

        Assert.Equal(new ResponseHeader(300, 9), EtcdProto.Header(Frame(header)));
        Assert.Equal(default, EtcdProto.Header(Frame([0x10, 1])));
        byte[] kv = [0x0A, 1, (byte)'a', 0x10, 5, 0x18, 7, 0x20, 2, 0x2A, 1, (byte)'1'];
        Assert.Equal(7, EtcdProto.ModRevision(Frame([.. header, 0x12, (byte)kv.Length, .. kv])));
        Assert.Equal(0, EtcdProto.ModRevision(Frame(header)));

        byte[] range = [0x0A, (byte)(kv.Length + 2), 0x12, (byte)kv.Length, .. kv];
        Assert.Equal(new TxnAnswer(false, TxnOp.Range, false, 0, 7), EtcdProto.Txn(Frame([.. header, 0x1A, (byte)range.Length, .. range])));
        Assert.Equal(new TxnAnswer(false, TxnOp.Range, false, 0, 0), EtcdProto.Txn(Frame([.. header, 0x1A, 2, 0x0A, 0])));
        Assert.Equal(new TxnAnswer(true, TxnOp.Put, true, 0, 0), EtcdProto.Txn(Frame([.. header, 0x10, 1, 0x1A, 4, 0x12, 2, 0x12, 0])));
        Assert.Equal(new TxnAnswer(true, TxnOp.Put, false, 0, 0), EtcdProto.Txn(Frame([.. header, 0x10, 1, 0x1A, 2, 0x12, 0])));
        Assert.Equal(new TxnAnswer(true, TxnOp.Delete, false, 1, 0), EtcdProto.Txn(Frame([.. header, 0x10, 1, 0x1A, 4, 0x1A, 2, 0x10, 1])));
        Assert.Throws<FormatException>(() => EtcdProto.Txn(Frame([.. header, 0x10, 1])));            // no response
        Assert.Throws<FormatException>(() => EtcdProto.Txn(Frame([.. header, 0x1A, 2, 0x22, 0])));   // a nested txn: never asked for
    }

    /// <summary>
    /// A length-delimited field's length that is negative as an int, past the end, or past
    /// 32 bits is refused wherever a field is skipped, not only where it is taken. Found by
    /// the fuzzer: the DeleteRange answer 12 FA FF FF FF 0F (field 2, length 0xFFFFFFFA,
    /// -6 as an int) moved the read position back to the start and spun forever.
    /// </summary>
    [Theory]
    [InlineData(new byte[] { 0x12, 0xFA, 0xFF, 0xFF, 0xFF, 0x0F })]                    // length -6 as an int
    [InlineData(new byte[] { 0x1A, 0xFE, 0xFF, 0xFF, 0xFF, 0x0F, 0x10, 1 })]           // length -2, then deleted
    [InlineData(new byte[] { 0x1A, 0x82, 0x80, 0x80, 0x80, 0x10, 0x10, 1 })]           // 2^32 + 2: 2 in an int
    [InlineData(new byte[] { 0x1A, 0x05, 0x10 })]                                      // past the end
    [InlineData(new byte[] { 0x19, 1, 2, 3, 0x10, 1 })]                                // a fixed64 cut short
    [InlineData(new byte[] { 0x15, 1, 2 })]                                            // a fixed32 cut short
    [InlineData(new byte[] { 0x90, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 1 })] // field number past 32 bits
    public void A_field_length_out_of_bounds_is_a_malformed_answer_not_a_loop(byte[] message)
    {
        byte[] frame = [0, 0, 0, 0, (byte)message.Length, .. message];
        foreach (var read in new Action[]
        {
            () => EtcdProto.Deleted(frame),
            () => EtcdProto.RangeValue(frame),
            () => EtcdProto.HasPreviousValue(frame),
            () => EtcdProto.Token(frame),
            () => EtcdProto.Header(frame),
            () => EtcdProto.ModRevision(frame),
            () => EtcdProto.Txn(frame),
        })
        {
            // On a thread of its own, with a bound: the bug this guards against never returns.
            Exception? thrown = null;
            var reader = new Thread(() => thrown = Record.Exception(read)) { IsBackground = true };
            reader.Start();
            Assert.True(reader.Join(TimeSpan.FromSeconds(5)), "still reading after 5 s");
            Assert.IsType<FormatException>(thrown);
        }
    }

    [Fact]
    public void Leases_and_watches_are_written_as_etcd_reads_them()
    {
        // PutRequest{key, value, lease: 300 (field 3, a two-byte varint), prev_kv}; lease 0 is left out (no lease).
        Assert.Equal([0, 0, 0, 0, 16, 0x0A, 4, .. "/p/a"u8, 0x12, 3, .. "[1]"u8, 0x18, 0xAC, 0x02, 0x20, 1], EtcdProto.Put("/p/"u8, "a"u8, "[1]"u8, lease: 300));
        Assert.Equal(EtcdProto.Put("/p/"u8, "a"u8, "[1]"u8), EtcdProto.Put("/p/"u8, "a"u8, "[1]"u8, lease: 0));
        Assert.Equal([0, 0, 0, 0, 2, 0x08, 60], EtcdProto.LeaseGrant(60));                     // LeaseGrantRequest{TTL}
        Assert.Equal([0, 0, 0, 0, 3, 0x08, 0xAC, 0x02], EtcdProto.LeaseRevoke(300));           // LeaseRevokeRequest{ID}
        Assert.Equal([0, 0, 0, 0, 8, 0x0A, 6, 0x0A, 4, .. "/p/a"u8], EtcdProto.WatchCreate("/p/"u8, "a"u8)); // WatchRequest{create_request{key}}

        // The txn's put carries the lease too: success RequestOp{request_put{key, value, lease 5, prev_kv}}.
        var txn = EtcdProto.Txn("/p/"u8, "a"u8, [new RevisionCompare(CompareResult.Equal, 5)], delete: false, "[1]"u8, lease: 5);
        byte[] success = [0x12, 17, 0x12, 15, 0x0A, 4, .. "/p/a"u8, 0x12, 3, .. "[1]"u8, 0x18, 5, 0x20, 1];
        Assert.Equal(success, txn[(5 + 14)..(5 + 14 + 19)]);
    }

    [Fact]
    public void Lease_and_watch_answers_are_read_as_etcd_writes_them()
    {
        byte[] header = [0x0A, 6, 0x08, 1, 0x10, 2, 0x18, 9];
        static byte[] Frame(byte[] message) => [0, 0, 0, 0, (byte)message.Length, .. message];

        Assert.Equal(999, EtcdProto.LeaseId(Frame([.. header, 0x10, 0xE7, 0x07, 0x18, 60])));
        Assert.Throws<FormatException>(() => EtcdProto.LeaseId(Frame(header)));                // no id: never a lease 0
        Assert.Equal(5, EtcdProto.PreviousLease(Frame([.. header, 0x12, 4, 0x0A, 0, 0x30, 5])));
        Assert.Equal(0, EtcdProto.PreviousLease(Frame(header)));

        Assert.Equal(new WatchAnswer(true, false, 0, null, 0, 0), EtcdProto.Watch(Frame([.. header, 0x10, 7, 0x18, 1])));
        Assert.Equal(new WatchAnswer(false, true, 400, "gone", 0, 0), EtcdProto.Watch(Frame([.. header, 0x20, 1, 0x28, 0x90, 0x03, 0x32, 4, .. "gone"u8])));
        // Two events: a PUT at 12, then a DELETE (type 1) at 9; the newest is 12.
        byte[] put = [0x12, 4, 0x0A, 0, 0x18, 12];
        byte[] delete = [0x08, 1, 0x12, 4, 0x0A, 0, 0x18, 9];
        Assert.Equal(new WatchAnswer(false, false, 0, null, 2, 12), EtcdProto.Watch(Frame([.. header, 0x5A, 6, .. put, 0x5A, 8, .. delete])));
    }

    [Fact]
    public async Task A_watch_stream_reads_frames_in_turn_skips_large_ones_and_ends_unavailable()
    {
        static byte[] Frame(byte[] message) => [0, .. BitConverter.IsLittleEndian ? BitConverter.GetBytes(message.Length).Reverse() : BitConverter.GetBytes(message.Length), .. message];
        var metrics = new EtcdMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>());
        byte[] large = [0x5A, 0x88, 0x80, 0x04, 0x12, 0x84, 0x80, 0x04, 0x2A, 0x80, 0x80, 0x04, .. new byte[65536]]; // an event with a 64 KiB value
        byte[] stream = [.. Frame([0x18, 1]), .. Frame(large), .. Frame([0x5A, 4, 0x12, 2, 0x18, 7])];
        using (var watch = new EtcdWatch(new HttpRequestMessage(), new HttpResponseMessage(), new MemoryStream(stream), metrics))
        {
            Assert.Equal(1, metrics.Watches);
            Assert.True((await watch.NextAsync(CancellationToken.None)).Answer.Created);
            Assert.Equal(new WatchAnswer(false, false, 0, null, 1, long.MaxValue), (await watch.NextAsync(CancellationToken.None)).Answer);
            Assert.Equal(7, (await watch.NextAsync(CancellationToken.None)).Answer.NewestRevision);
            var ended = await Assert.ThrowsAsync<StoreException>(() => watch.NextAsync(CancellationToken.None));
            Assert.Equal(StoreFailure.Unavailable, ended.Failure);
        }
        Assert.Equal(0, metrics.Watches);

        foreach (var broken in new byte[][] { [1, 0, 0, 0, 0], [0, 0, 0, 0, 9, 0x18], [0, 0, 0], [0, 0, 0, 0, 2, 0x18, 0x80], [0, 0, 0, 0, 2, 0x0A, 1] })
        {
            using var watch = new EtcdWatch(new HttpRequestMessage(), new HttpResponseMessage(), new MemoryStream(broken), metrics);
            var failure = await Assert.ThrowsAsync<StoreException>(() => watch.NextAsync(CancellationToken.None));
            Assert.Equal(StoreFailure.Unavailable, failure.Failure);
        }
    }
}
