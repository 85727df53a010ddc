// Also compiled into the generator (src/Generator/OptGen.Generator.csproj links this file): there the types live in
// the generator's model namespace, so a project that references both assemblies sees one OptGen.* type of each.
#if OPTGEN_GENERATOR
namespace OptGen.Generator.Model;
#else
namespace OptGen;
#endif

// One definition of the hyperparameter ranges, compiled into the runtime (setters, schedules) and, as a linked
// file, into the generator (defaults of expression rules, the generated documentation). Keep it netstandard2.0 C#
// with no dependency beyond System.

/// <summary>The values a hyperparameter accepts; setters reject anything else.</summary>
public enum HyperparameterRange
{
    /// <summary>Any finite value.</summary>
    Finite = 0,

    /// <summary>A finite value ≥ 0.</summary>
    NonNegative = 1,

    /// <summary>A finite value &gt; 0.</summary>
    Positive = 2,

    /// <summary>A decay in [0, 1).</summary>
    UnitInterval = 3,

    /// <summary>A switch: 0 (false) or 1 (true).</summary>
    Boolean = 4,

    /// <summary>A fraction in [0, 1].</summary>
    Probability = 5,
}

/// <summary>What each <see cref="HyperparameterRange"/> accepts, and how it reads in messages.</summary>
internal static class HyperparameterRanges
{
    /// <summary>Whether <paramref name="value"/> is in <paramref name="range"/>.</summary>
    public static bool Accepts(HyperparameterRange range, double value) => range switch
    {
        HyperparameterRange.NonNegative => IsFinite(value) && value >= 0,
        HyperparameterRange.Positive => IsFinite(value) && value > 0,
        HyperparameterRange.UnitInterval => value >= 0 && value < 1,
        HyperparameterRange.Boolean => value == 0 || value == 1,
        HyperparameterRange.Probability => value >= 0 && value <= 1,
        _ => IsFinite(value),
    };

    /// <summary>The range in words, e.g. <c>a value in [0, 1)</c>.</summary>
    public static string Text(HyperparameterRange range) => range switch
    {
        HyperparameterRange.NonNegative => "a finite value >= 0",
        HyperparameterRange.Positive => "a finite value > 0",
        HyperparameterRange.UnitInterval => "a value in [0, 1)",
        HyperparameterRange.Boolean => "0 or 1",
        HyperparameterRange.Probability => "a value in [0, 1]",
        _ => "a finite value",
    };

    // double.IsFinite is not in netstandard2.0.
    private static bool IsFinite(double value) => !double.IsNaN(value) && !double.IsInfinity(value);
}
