using System.Security.Cryptography;
using Microsoft.Extensions.Primitives;

namespace AotKvs.Forwarding;

/// <summary>
/// The Via chain (RFC 9110 §7.6.3) a forwarder stamps on what it sends to main, so that a
/// forwarding loop (a forwarder pointed at itself, or a cycle) shows up as a request that
/// already carries this instance's name, instead of multiplying connections until the
/// machine runs out of them. Long chains are cut off too.
/// </summary>
internal sealed class ViaHeader
{
    /// <summary>Most hops a request may already have made when it reaches a forwarder.</summary>
    public const int MaxHops = 16;

    private readonly string _name;
    private readonly string _entry;

    private ViaHeader(string name)
    {
        _name = name;
        _entry = "1.1 " + name;
    }

    /// <summary>A name no other running instance has: random, so clones of one image differ.</summary>
    public static ViaHeader ForNewInstance() =>
        new("aotkvs-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));

    /// <summary>True when the request has been through this instance, or through too many.</summary>
    public bool IsLoop(StringValues received)
    {
        var hops = 0;
        foreach (var line in received)
        {
            foreach (var entry in (line ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (++hops >= MaxHops)
                    return true;
                // "protocol received-by [comment]": compare the received-by part exactly.
                var parts = entry.Split(' ', 3, StringSplitOptions.RemoveEmptyEntries);
                if (parts.Length >= 2 && parts[1] == _name)
                    return true;
            }
        }
        return false;
    }

    /// <summary>This instance's own entry ("1.1 aotkvs-..."), sent last in the Via it passes on.</summary>
    public string Entry => _entry;

    /// <summary>The length of the Via to send on: what was received, then this instance (", " between entries).</summary>
    public int AppendedLength(StringValues received)
    {
        var length = _entry.Length;
        foreach (var line in received)
            length += (line?.Length ?? 0) + 2;
        return length;
    }
}
