using System.Globalization;

namespace AotKvs.Configuration;

/// <summary>
/// One setting, declared once: its flag, environment variable, type, default, allowed
/// values and meaning. Help, the command line, loading, validation and the documentation
/// tables all come from <see cref="Settings.All"/>; a unit test compares the tables in
/// docs/operations.md and README.md with it.
/// </summary>
internal abstract class Setting(string flag, string variable, string meaning)
{
    /// <summary>The command-line name, "--port".</summary>
    public string Flag => flag;

    /// <summary>The environment variable, and the key the configuration system reads.</summary>
    public string Variable => variable;

    public string Meaning => meaning;

    /// <summary>What kind of value it takes, as the docs show it.</summary>
    public abstract string Type { get; }

    /// <summary>The value used when it is unset, as the docs show it.</summary>
    public abstract string Default { get; }

    /// <summary>The values it accepts, as the docs show them.</summary>
    public abstract string Allowed { get; }

    /// <summary>The value a flag given without one stands for ("--access-log"); null: a value is needed.</summary>
    public virtual string? BareFlagValue => null;

    /// <summary>The configured text, trimmed; null when unset or blank.</summary>
    protected string? Text(IConfiguration config) =>
        config[variable] is { } text && !string.IsNullOrWhiteSpace(text) ? text.Trim() : null;

    protected InvalidSettingException Invalid(IConfiguration config, string must) =>
        new($"{variable} '{config[variable]}' must be {must}");
}

/// <summary>A whole number in a range.</summary>
internal sealed class NumberSetting(string flag, string variable, string unit, int fallback, int min, int max, string meaning)
    : Setting(flag, variable, meaning)
{
    public int Fallback => fallback;
    public override string Type => unit;
    public override string Default => fallback.ToString(CultureInfo.InvariantCulture);
    public override string Allowed => $"{min}–{max}";

    public int Read(IConfiguration config) => ReadIfSet(config) ?? fallback;

    /// <summary>The configured number; null when unset, so that something else may decide.</summary>
    public int? ReadIfSet(IConfiguration config)
    {
        if (Text(config) is not { } text)
            return null;
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw Invalid(config, $"a whole number from {min} to {max}");
        return value;
    }
}

/// <summary>One of a few names, each standing for a value; the first name of a value is how the docs show it.</summary>
internal sealed class ChoiceSetting<T>(string flag, string variable, T fallback, (string Name, T Value)[] choices, string meaning)
    : Setting(flag, variable, meaning)
    where T : struct
{
    public override string Type => "choice";
    public override string Default => NameOf(fallback);
    public override string Allowed => string.Join(", ", Array.ConvertAll(choices, c => c.Name));

    public T Read(IConfiguration config)
    {
        if (Text(config) is not { } text)
            return fallback;
        foreach (var (name, value) in choices)
            if (name.Equals(text, StringComparison.OrdinalIgnoreCase))
                return value;
        throw Invalid(config, "one of " + Allowed);
    }

    private string NameOf(T value) => Array.Find(choices, c => EqualityComparer<T>.Default.Equals(c.Value, value)).Name;
}

/// <summary>On or off; the flag alone means on.</summary>
internal sealed class SwitchSetting(string flag, string variable, string meaning) : Setting(flag, variable, meaning)
{
    private static readonly (string Name, bool Value)[] Names =
        [("true", true), ("false", false), ("1", true), ("0", false), ("yes", true), ("no", false), ("on", true), ("off", false)];

    public override string Type => "switch";
    public override string Default => "false";
    public override string Allowed => "true, false (also 1/0, yes/no, on/off); the bare flag means true";
    public override string? BareFlagValue => "true";

    public bool Read(IConfiguration config)
    {
        if (Text(config) is not { } text)
            return false;
        foreach (var (name, value) in Names)
            if (name.Equals(text, StringComparison.OrdinalIgnoreCase))
                return value;
        throw Invalid(config, "true or false");
    }
}

/// <summary>Free text, checked (if at all) by whoever reads it.</summary>
internal sealed class TextSetting(string flag, string variable, string type, string fallback, string allowed, string meaning)
    : Setting(flag, variable, meaning)
{
    public override string Type => type;
    public override string Default => fallback;
    public override string Allowed => allowed;

    /// <summary>The configured text, trimmed; null when unset or blank.</summary>
    public string? Read(IConfiguration config) => Text(config);
}

internal sealed class InvalidSettingException(string message) : Exception(message);
