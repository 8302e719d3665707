using System.Buffers.Binary;
using System.Text;

namespace AotKvs.Storage.Etcd;

/// <summary>
/// The few etcd v3 messages this store speaks, in protobuf as etcd's gRPC API defines them
/// (rpc.proto, kv.proto), written and read by hand, each in gRPC's length-prefixed frame.
/// Only the fields used here are written; unknown fields are skipped when read.
/// </summary>
internal static class EtcdProto
{
    private const int Varint = 0, Fixed64 = 1, Bytes = 2, Fixed32 = 5;

    /// <summary>RangeRequest{key}: one key, linearizable (serializable left false). Also DeleteRangeRequest{key}.</summary>
    public static byte[] KeyOnly(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key)
    {
        var keyLength = prefix.Length + key.Length;
        var frame = NewFrame(FieldLength(keyLength), out var at);
        at = WriteKey(frame, at, prefix, key);
        return frame;
    }

    /// <summary>
    /// PutRequest{key, value, lease, prev_kv: true}: the answer carries what it replaced. Lease 0
    /// (the field left out) puts the key under no lease, detaching it from any it had.
    /// </summary>
    public static byte[] Put(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, long lease = 0)
    {
        var keyLength = prefix.Length + key.Length;
        var frame = NewFrame(FieldLength(keyLength) + FieldLength(value.Length) + LeaseLength(lease) + 2, out var at);
        at = WriteKey(frame, at, prefix, key);
        at = WriteBytes(frame, at, 2, value);
        at = WriteLease(frame, at, lease);
        frame[at++] = 4 << 3 | Varint; // prev_kv
        frame[at] = 1;
        return frame;
    }

    /// <summary>LeaseGrantRequest{TTL}: etcd picks the id.</summary>
    public static byte[] LeaseGrant(long ttlSeconds)
    {
        var frame = NewFrame(1 + VarintLength((ulong)ttlSeconds), out var at);
        frame[at++] = 1 << 3 | Varint;
        WriteVarint(frame, at, (ulong)ttlSeconds);
        return frame;
    }

    /// <summary>LeaseRevokeRequest{ID}.</summary>
    public static byte[] LeaseRevoke(long lease)
    {
        var frame = NewFrame(1 + VarintLength((ulong)lease), out var at);
        frame[at++] = 1 << 3 | Varint;
        WriteVarint(frame, at, (ulong)lease);
        return frame;
    }

    /// <summary>
    /// WatchRequest{create_request: WatchCreateRequest{key}}: events on exactly this key from
    /// the cluster's next revision on, no previous values.
    /// </summary>
    public static byte[] WatchCreate(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key)
    {
        var keyField = FieldLength(prefix.Length + key.Length);
        var frame = NewFrame(FieldLength(keyField), out var at);
        at = WriteHeader(frame, at, 1, keyField);
        WriteKey(frame, at, prefix, key);
        return frame;
    }

    /// <summary>
    /// TxnRequest{compare: each of <paramref name="compares"/> on the key's mod_revision, success:
    /// [the put (with prev_kv and the lease) or the delete], failure: [a range of the key]}: the change happens
    /// only if every comparison holds, and otherwise the answer says the key's mod_revision.
    /// </summary>
    public static byte[] Txn(ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key, ReadOnlySpan<RevisionCompare> compares, bool delete, ReadOnlySpan<byte> value, long lease = 0)
    {
        var keyField = FieldLength(prefix.Length + key.Length);
        var length = 0;
        foreach (var compare in compares)
            length += FieldLength(CompareLength(keyField, compare.ModRevision));
        var change = delete ? keyField : keyField + FieldLength(value.Length) + LeaseLength(lease) + 2;
        length += FieldLength(FieldLength(change)) + FieldLength(FieldLength(keyField));
        var frame = NewFrame(length, out var at);
        foreach (var compare in compares)
        {
            at = WriteHeader(frame, at, 1, CompareLength(keyField, compare.ModRevision));
            frame[at++] = 1 << 3 | Varint;          // result
            frame[at++] = (byte)compare.Result;
            frame[at++] = 2 << 3 | Varint;          // target: MOD
            frame[at++] = 2;
            at = WriteKey(frame, at, prefix, key, field: 3);
            frame[at++] = 6 << 3 | Varint;          // mod_revision
            at = WriteVarint(frame, at, (ulong)compare.ModRevision);
        }
        at = WriteHeader(frame, at, 2, FieldLength(change));           // success: RequestOp
        at = WriteHeader(frame, at, delete ? 3 : 2, change);     // request_delete_range or request_put
        at = WriteKey(frame, at, prefix, key);
        if (!delete)
        {
            at = WriteBytes(frame, at, 2, value);
            at = WriteLease(frame, at, lease);
            frame[at++] = 4 << 3 | Varint; // prev_kv
            frame[at++] = 1;
        }
        at = WriteHeader(frame, at, 3, FieldLength(keyField));         // failure: RequestOp
        at = WriteHeader(frame, at, 1, keyField);                       // request_range
        WriteKey(frame, at, prefix, key);
        return frame;
    }

    /// <summary>AuthenticateRequest{name, password}.</summary>
    public static byte[] Authenticate(string name, string password)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var passwordBytes = Encoding.UTF8.GetBytes(password);
        var frame = NewFrame(FieldLength(nameBytes.Length) + FieldLength(passwordBytes.Length), out var at);
        at = WriteBytes(frame, at, 1, nameBytes);
        WriteBytes(frame, at, 2, passwordBytes);
        return frame;
    }

    /// <summary>RangeResponse: the first KeyValue's value (field 5), or null when kvs (field 2) is empty.</summary>
    public static byte[]? RangeValue(ReadOnlySpan<byte> frame)
    {
        var message = Message(frame);
        if (!TryField(message, 2, out var kv))
            return null;
        return TryField(kv, 5, out var value) ? value.ToArray() : [];
    }

    /// <summary>PutResponse: prev_kv (field 2) is there only when the put replaced a value.</summary>
    public static bool HasPreviousValue(ReadOnlySpan<byte> frame) => TryField(Message(frame), 2, out _);

    /// <summary>PutResponse: the lease (field 6) of the replaced KeyValue (prev_kv, field 2); 0 when none.</summary>
    public static long PreviousLease(ReadOnlySpan<byte> frame) =>
        TryField(Message(frame), 2, out var kv) && TryVarint(kv, 6, out var lease) ? (long)lease : 0;

    /// <summary>LeaseGrantResponse: the lease's ID (field 2), which etcd never leaves 0 on success.</summary>
    public static long LeaseId(ReadOnlySpan<byte> frame) =>
        TryVarint(Message(frame), 2, out var id) && id != 0 ? (long)id : throw new FormatException("a lease grant without its id");

    /// <summary>
    /// WatchResponse: created (3), canceled (4), compact_revision (5), cancel_reason (6), and of
    /// the events (11, each Event{type, kv: KeyValue{mod_revision (3)}}) how many there are and
    /// the newest revision among them. A DELETE event's kv holds the deletion's revision.
    /// </summary>
    public static WatchAnswer Watch(ReadOnlySpan<byte> frame)
    {
        var message = Message(frame);
        bool created = false, canceled = false;
        long compactRevision = 0, newest = 0;
        var events = 0;
        string? reason = null;
        var at = 0;
        while (at < message.Length)
        {
            var (number, type) = ReadTag(message, ref at);
            if (type == Varint && number is 3 or 4 or 5)
            {
                var value = ReadVarint(message, ref at);
                if (number == 3)
                    created = value != 0;
                else if (number == 4)
                    canceled = value != 0;
                else
                    compactRevision = (long)value;
            }
            else if (type == Bytes && number is 6 or 11)
            {
                var length = ReadLength(message, ref at);
                var field = message.Slice(at, length);
                at += length;
                if (number == 6)
                    reason = Encoding.UTF8.GetString(field);
                else
                {
                    events++;
                    var revision = TryField(field, 2, out var kv) && TryVarint(kv, 3, out var modRevision) ? (long)modRevision : 0;
                    newest = Math.Max(newest, revision);
                }
            }
            else
                Skip(message, ref at, type);
        }
        return new WatchAnswer(created, canceled, compactRevision, reason, events, newest);
    }

    /// <summary>DeleteRangeResponse: deleted (field 2), absent when zero.</summary>
    public static long Deleted(ReadOnlySpan<byte> frame) => TryVarint(Message(frame), 2, out var deleted) ? (long)deleted : 0;

    /// <summary>Any answer's ResponseHeader (field 1): cluster_id (1) and revision (3); zeros when absent.</summary>
    public static ResponseHeader Header(ReadOnlySpan<byte> frame)
    {
        if (!TryField(Message(frame), 1, out var header))
            return default;
        TryVarint(header, 1, out var clusterId);
        TryVarint(header, 3, out var revision);
        return new ResponseHeader(clusterId, (long)revision);
    }

    /// <summary>RangeResponse: the first KeyValue's mod_revision (field 3), or 0 when kvs is empty.</summary>
    public static long ModRevision(ReadOnlySpan<byte> frame) => FirstModRevision(Message(frame));

    /// <summary>
    /// TxnResponse: succeeded (field 2) and the first ResponseOp (field 3): a range's first
    /// mod_revision, a put's prev_kv, or a delete's count, whichever it holds. An answer
    /// without a ResponseOp is not one this store's transactions get.
    /// </summary>
    public static TxnAnswer Txn(ReadOnlySpan<byte> frame)
    {
        var message = Message(frame);
        TryVarint(message, 2, out var succeeded);
        if (!TryField(message, 3, out var response))
            throw new FormatException("a txn answer without its response");
        if (TryField(response, 1, out var range))
            return new TxnAnswer(succeeded != 0, TxnOp.Range, false, 0, FirstModRevision(range));
        if (TryField(response, 2, out var put))
        {
            var replaced = TryField(put, 2, out var previous);
            var lease = replaced && TryVarint(previous, 6, out var id) ? (long)id : 0;
            return new TxnAnswer(succeeded != 0, TxnOp.Put, replaced, 0, 0, lease);
        }
        if (TryField(response, 3, out var delete))
            return new TxnAnswer(succeeded != 0, TxnOp.Delete, false, TryVarint(delete, 2, out var deleted) ? (long)deleted : 0, 0);
        throw new FormatException("a txn response that is no range, put or delete");
    }

    /// <summary>AuthenticateResponse: token (field 2).</summary>
    public static string? Token(ReadOnlySpan<byte> frame) => TryField(Message(frame), 2, out var token) ? Encoding.UTF8.GetString(token) : null;

    private static long FirstModRevision(ReadOnlySpan<byte> rangeResponse) =>
        TryField(rangeResponse, 2, out var kv) && TryVarint(kv, 3, out var modRevision) ? (long)modRevision : 0;

    /// <summary>The message inside gRPC's frame: flag byte 0 (not compressed), 4-byte big-endian length.</summary>
    private static ReadOnlySpan<byte> Message(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < 5 || frame[0] != 0)
            throw new FormatException("not an uncompressed gRPC message");
        var length = BinaryPrimitives.ReadUInt32BigEndian(frame[1..]);
        if (length > frame.Length - 5)
            throw new FormatException("a gRPC message cut short");
        return frame.Slice(5, (int)length);
    }

    private static bool TryField(ReadOnlySpan<byte> message, int field, out ReadOnlySpan<byte> bytes)
    {
        bytes = default;
        var at = 0;
        while (at < message.Length)
        {
            var (number, type) = ReadTag(message, ref at);
            if (type == Bytes && number == field)
            {
                var length = ReadLength(message, ref at);
                bytes = message.Slice(at, length);
                return true;
            }
            Skip(message, ref at, type);
        }
        return false;
    }

    private static bool TryVarint(ReadOnlySpan<byte> message, int field, out ulong value)
    {
        value = 0;
        var at = 0;
        while (at < message.Length)
        {
            var (number, type) = ReadTag(message, ref at);
            if (type == Varint && number == field)
            {
                value = ReadVarint(message, ref at);
                return true;
            }
            Skip(message, ref at, type);
        }
        return false;
    }

    /// <summary>A field's number (1 to 2^29 - 1, as protobuf allows) and wire type.</summary>
    private static (int Number, int Type) ReadTag(ReadOnlySpan<byte> message, ref int at)
    {
        var tag = ReadVarint(message, ref at);
        if (tag >> 3 is 0 or > (1 << 29) - 1)
            throw new FormatException("a protobuf field number out of range");
        return ((int)(tag >> 3), (int)(tag & 7));
    }

    /// <summary>
    /// Moves past a field's value. Every length, read or fixed, is checked against what is
    /// left: a length that is negative as an int, past 32 bits or past the end is refused,
    /// never added to the position.
    /// </summary>
    private static void Skip(ReadOnlySpan<byte> message, ref int at, int type)
    {
        switch (type)
        {
            case Varint: ReadVarint(message, ref at); break;
            case Bytes:
                var length = ReadLength(message, ref at); // first: it moves past the length itself
                at += length;
                break;
            case Fixed64: at += Within(message, at, 8); break;
            case Fixed32: at += Within(message, at, 4); break;
            default: throw new FormatException($"protobuf wire type {type}");
        }
    }

    /// <summary>A length-delimited field's length, which the rest of the message must hold.</summary>
    private static int ReadLength(ReadOnlySpan<byte> message, ref int at)
    {
        var length = ReadVarint(message, ref at);
        return Within(message, at, length);
    }

    private static int Within(ReadOnlySpan<byte> message, int at, ulong length) =>
        length <= (ulong)(message.Length - at) ? (int)length : throw new FormatException("a protobuf field cut short");

    private static ulong ReadVarint(ReadOnlySpan<byte> message, ref int at)
    {
        ulong value = 0;
        for (var shift = 0; shift < 64; shift += 7)
        {
            if (at >= message.Length)
                throw new FormatException("a protobuf varint cut short");
            var b = message[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
                return value;
        }
        throw new FormatException("a protobuf varint too long");
    }

    private static int VarintLength(ulong value)
    {
        var length = 1;
        for (; value >= 0x80; value >>= 7)
            length++;
        return length;
    }

    private static int VarintLength(int value) => value < 1 << 7 ? 1 : value < 1 << 14 ? 2 : value < 1 << 21 ? 3 : value < 1 << 28 ? 4 : 5;

    private static int FieldLength(int length) => 1 + VarintLength(length) + length;

    private static byte[] NewFrame(int messageLength, out int at)
    {
        var frame = new byte[5 + messageLength];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)messageLength);
        at = 5;
        return frame;
    }

    private static int WriteKey(byte[] frame, int at, ReadOnlySpan<byte> prefix, ReadOnlySpan<byte> key, int field = 1)
    {
        frame[at++] = (byte)(field << 3 | Bytes);
        at = WriteVarint(frame, at, prefix.Length + key.Length);
        prefix.CopyTo(frame.AsSpan(at));
        key.CopyTo(frame.AsSpan(at + prefix.Length));
        return at + prefix.Length + key.Length;
    }

    private static int WriteBytes(byte[] frame, int at, int field, ReadOnlySpan<byte> bytes)
    {
        frame[at++] = (byte)(field << 3 | Bytes);
        at = WriteVarint(frame, at, bytes.Length);
        bytes.CopyTo(frame.AsSpan(at));
        return at + bytes.Length;
    }

    /// <summary>A length-delimited field's tag and length; its content follows.</summary>
    private static int WriteHeader(byte[] frame, int at, int field, int length)
    {
        frame[at++] = (byte)(field << 3 | Bytes);
        return WriteVarint(frame, at, length);
    }

    /// <summary>A PutRequest's lease field (3): left out for 0.</summary>
    private static int LeaseLength(long lease) => lease == 0 ? 0 : 1 + VarintLength((ulong)lease);

    private static int WriteLease(byte[] frame, int at, long lease)
    {
        if (lease == 0)
            return at;
        frame[at++] = 3 << 3 | Varint;
        return WriteVarint(frame, at, (ulong)lease);
    }

    /// <summary>A Compare{result, target, key, mod_revision} message's length.</summary>
    private static int CompareLength(int keyField, long modRevision) => 2 + 2 + keyField + 1 + VarintLength((ulong)modRevision);

    private static int WriteVarint(byte[] frame, int at, int value) => WriteVarint(frame, at, (uint)value);

    private static int WriteVarint(byte[] frame, int at, ulong value)
    {
        var v = value;
        while (v >= 0x80)
        {
            frame[at++] = (byte)(v | 0x80);
            v >>= 7;
        }
        frame[at++] = (byte)v;
        return at;
    }
}

/// <summary>Compare.CompareResult as etcd numbers it.</summary>
internal enum CompareResult : byte { Equal = 0, Greater = 1, Less = 2, NotEqual = 3 }

/// <summary>One Compare of a key's mod_revision (target MOD); for an absent key etcd compares 0.</summary>
internal readonly record struct RevisionCompare(CompareResult Result, long ModRevision);

/// <summary>ResponseHeader: which cluster answered and the store's revision after the call.</summary>
internal readonly record struct ResponseHeader(ulong ClusterId, long Revision);

internal enum TxnOp { Range = 1, Put = 2, Delete = 3 }

/// <summary>What a txn of <see cref="EtcdProto.Txn(ReadOnlySpan{byte}, ReadOnlySpan{byte}, ReadOnlySpan{RevisionCompare}, bool, ReadOnlySpan{byte}, long)"/> answered; a put's replaced value's lease too.</summary>
internal readonly record struct TxnAnswer(bool Succeeded, TxnOp Op, bool HasPreviousValue, long Deleted, long ModRevision, long PreviousLease = 0);

/// <summary>
/// What one WatchResponse said: the watch was created or canceled (why), history before
/// <see cref="CompactRevision"/> is gone, or <see cref="Events"/> events came, the newest at
/// <see cref="NewestRevision"/>.
/// </summary>
internal readonly record struct WatchAnswer(bool Created, bool Canceled, long CompactRevision, string? CancelReason, int Events, long NewestRevision);
