// Also compiled into the generator (src/Generator/OptGen.Generator.csproj links this file): there the types live in
// the generator's model namespace, so a project that references both assemblies sees one OptGen.* type of each.
#if OPTGEN_GENERATOR
namespace OptGen.Generator.Model;
#else
namespace OptGen;
#endif

// One definition of the hyperparameter ranges, compiled into the runtime (setters, schedules, checkpoints) and, as a
// linked file, into the generator (attribute arguments, expression-rule defaults, the generated documentation). Keep
// it netstandard2.0 C# (no double.IsFinite/float.IsFinite) with no dependency beyond System.

/// <summary>
/// The values a hyperparameter accepts; setters reject anything else. "Finite" means finite in float32 as well, and
/// <see cref="Positive"/> also excludes values that round to 0 in float32 (see <see cref="HyperparameterDescriptor.Accepts"/>).
/// </summary>
public enum HyperparameterRange
{
    /// <summary>Any value finite in float32.</summary>
    Finite = 0,

    /// <summary>A value ≥ 0, finite in float32.</summary>
    NonNegative = 1,

    /// <summary>A value &gt; 0, finite and not rounded to 0 in float32.</summary>
    Positive = 2,

    /// <summary>A decay in [0, 1).</summary>
    UnitInterval = 3,

    /// <summary>A switch: 0 (false) or 1 (true).</summary>
    Boolean = 4,

    /// <summary>A fraction in [0, 1].</summary>
    Probability = 5,

    /// <summary>A count: a whole number in [0, 2³¹ − 1] (a block size, a number of steps).</summary>
    Count = 6,
}

/// <summary>
/// The one definition of what each <see cref="HyperparameterRange"/> accepts, used by every entry point that takes a
/// hyperparameter-like value: the typed setters and the indexer, <see cref="ParameterGroup"/>, schedule values at step
/// time, checkpoint loading and <see cref="StepOptions"/>.
/// </summary>
/// <remarks>
/// The kernels compute in float32: the per-step scalars are formed in double from the hyperparameters and then
/// narrowed. A value is therefore accepted only if it is in range in double and its float32 rounding is still usable:
/// finite (1e300 would be +∞ in float32 and turn every parameter into NaN), and, where the range excludes 0, not rounded
/// to 0 (an ε of 1e-50 is 0 in float32 and divides by zero). The decays (<see cref="HyperparameterRange.UnitInterval"/>)
/// are not held to β &lt; 1 in float32: the rules form 1 − β in double, and β = 1 − 1e-9 is a legitimate (if extreme)
/// value whose float32 rounding 1 only says "keep the old value".
/// Per-step scalars computed from valid hyperparameters (η/(1 − β₁ᵗ) and the like) are checked by the step engine.
/// </remarks>
internal static class HyperparameterRanges
{
    /// <summary>Whether <paramref name="value"/> is in <paramref name="range"/>, in double and in float32.</summary>
    public static bool Contains(HyperparameterRange range, double value) =>
        InRange(range, value) && Float32Problem(value, zeroAllowed: range != HyperparameterRange.Positive) is null;

    /// <summary>Whether <paramref name="value"/> is finite and in <paramref name="range"/> in double, before float32 is considered.</summary>
    public static bool InRange(HyperparameterRange range, double value) =>
        !double.IsNaN(value) && !double.IsInfinity(value) && range switch
        {
            HyperparameterRange.NonNegative => value >= 0,
            HyperparameterRange.Positive => value > 0,
            HyperparameterRange.UnitInterval => value >= 0 && value < 1,
            HyperparameterRange.Boolean => value == 0 || value == 1,
            HyperparameterRange.Probability => value >= 0 && value <= 1,
            HyperparameterRange.Count => value >= 0 && value <= int.MaxValue && System.Math.Floor(value) == value,
            _ => true,
        };

    /// <summary>
    /// What float32, the kernels' precision, makes of a finite double when that breaks it: "∞" or "−∞" for a magnitude
    /// above float.MaxValue, "0" for a nonzero value that underflows where 0 is not allowed; otherwise null.
    /// </summary>
    public static string? Float32Problem(double value, bool zeroAllowed)
    {
        float single = (float)value;
        return float.IsInfinity(single) ? (single > 0 ? "∞" : "−∞")
            : single == 0 && value != 0 && !zeroAllowed ? "0"
            : null;
    }

    /// <summary><paramref name="range"/> in words, for error messages: "LearningRate (η) must be {text}".</summary>
    public static string Text(HyperparameterRange range) => range switch
    {
        HyperparameterRange.NonNegative => "a value >= 0 that is finite in float32 (at most 3.4028235E+38)",
        HyperparameterRange.Positive => "a value > 0 that is finite and not 0 in float32 (1.4E-45 to 3.4028235E+38)",
        HyperparameterRange.UnitInterval => "a value in [0, 1)",
        HyperparameterRange.Boolean => "0 or 1",
        HyperparameterRange.Probability => "a value in [0, 1]",
        HyperparameterRange.Count => "a whole number in [0, 2147483647]",
        _ => "a value that is finite in float32 (magnitude at most 3.4028235E+38)",
    };
}
