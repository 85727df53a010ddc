using System;
using System.Collections.Generic;

namespace OptGen;

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
}

/// <summary>One hyperparameter of a rule.</summary>
/// <param name="Name">The property name, e.g. <c>LearningRate</c>.</param>
/// <param name="Symbol">The symbol in the update rule, e.g. η.</param>
/// <param name="DefaultValue">The declared default.</param>
/// <param name="Range">The values it accepts.</param>
public sealed record HyperparameterDescriptor(string Name, string Symbol, double DefaultValue, HyperparameterRange Range)
{
    /// <summary>
    /// Whether <paramref name="value"/> is in range, in double and as the float32 the kernels compute with: finite in
    /// float32, and not rounded to 0 in float32 where the range excludes 0.
    /// </summary>
    public bool Accepts(double value) => HyperparameterRanges.Contains(Range, value);

    /// <summary>The range in words, for error messages.</summary>
    public string RangeText => HyperparameterRanges.Text(Range);

    /// <summary>
    /// The hyperparameter in error messages: "LearningRate (η)", or just "Beta1" when the symbol is the name (an
    /// expression rule's hyperparameters), rather than "Beta1 (Beta1)".
    /// </summary>
    internal string Label => Symbol == Name ? Name : $"{Name} ({Symbol})";
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
    public static bool Contains(HyperparameterRange range, double value)
    {
        bool inDouble = range switch
        {
            HyperparameterRange.NonNegative => value >= 0,
            HyperparameterRange.Positive => value > 0,
            HyperparameterRange.UnitInterval => value >= 0 && value < 1,
            HyperparameterRange.Boolean => value == 0 || value == 1,
            HyperparameterRange.Probability => value >= 0 && value <= 1,
            _ => true,
        };
        float single = (float)value;
        return inDouble && float.IsFinite(single) && (range != HyperparameterRange.Positive || single > 0);
    }

    /// <summary><paramref name="range"/> in words, for error messages: "LearningRate (η) must be {text}".</summary>
    public static string Text(HyperparameterRange range) => range switch
    {
        HyperparameterRange.NonNegative => "a value >= 0 that is finite in float32 (at most 3.4028235E+38)",
        HyperparameterRange.Positive => "a value > 0 that is finite and not 0 in float32 (1.4E-45 to 3.4028235E+38)",
        HyperparameterRange.UnitInterval => "a value in [0, 1)",
        HyperparameterRange.Boolean => "0 or 1",
        HyperparameterRange.Probability => "a value in [0, 1]",
        _ => "a value that is finite in float32 (magnitude at most 3.4028235E+38)",
    };
}

/// <summary>One per-element state buffer of a rule.</summary>
/// <param name="Name">The buffer's name, e.g. <c>FirstMoment</c>.</param>
/// <param name="Symbol">The symbol in the update rule, e.g. m.</param>
/// <param name="InitialValueHyperparameter">The index of the hyperparameter holding the buffer's initial value, or −1 for zero.</param>
public sealed record StateDescriptor(string Name, string Symbol, int InitialValueHyperparameter = -1);

/// <summary>One scalar a rule carries from step to step on the host (e.g. NAdam's product Πₜ of μₜ).</summary>
/// <param name="Name">The property name, e.g. <c>MuProduct</c>.</param>
/// <param name="Symbol">The symbol in the update rule, e.g. Π.</param>
/// <param name="InitialValue">Its value before step 1, restored by <see cref="Optimizer.Reset"/>.</param>
public sealed record HostStateDescriptor(string Name, string Symbol, double InitialValue);

/// <summary>
/// What the generator knows about a declared rule, at run time: its identity, hyperparameters, state buffers and
/// memory traffic. Generated optimizers pass one to <see cref="Optimizer"/>.
/// </summary>
public sealed class OptimizerDescriptor
{
    /// <summary>Creates a descriptor (called by generated code).</summary>
    public OptimizerDescriptor(
        string name,
        string ruleId,
        HyperparameterDescriptor[] hyperparameters,
        StateDescriptor[] states,
        int bytesReadPerElement,
        int bytesWrittenPerElement,
        HostStateDescriptor[]? hostStates = null)
    {
        ArgumentNullException.ThrowIfNull(name);
        ArgumentNullException.ThrowIfNull(ruleId);
        ArgumentNullException.ThrowIfNull(hyperparameters);
        ArgumentNullException.ThrowIfNull(states);
        Name = name;
        RuleId = ruleId;
        Hyperparameters = hyperparameters;
        States = states;
        BytesReadPerElement = bytesReadPerElement;
        BytesWrittenPerElement = bytesWrittenPerElement;
        HostStates = hostStates ?? [];
    }

    /// <summary>The rule's name (the <see cref="OptimizerAttribute.Name"/>, or the class's full name).</summary>
    public string Name { get; }

    /// <summary>A fingerprint of the update rule's structure: equal for rules that compute the same thing.</summary>
    public string RuleId { get; }

    /// <summary>The hyperparameters, in storage order.</summary>
    public IReadOnlyList<HyperparameterDescriptor> Hyperparameters { get; }

    /// <summary>The per-element state buffers, in storage order.</summary>
    public IReadOnlyList<StateDescriptor> States { get; }

    /// <summary>The scalars carried from step to step on the host, in storage order (empty for most rules).</summary>
    public IReadOnlyList<HostStateDescriptor> HostStates { get; }

    /// <summary>Bytes read per element and step with float32 storage (p, g and every state the rule reads).</summary>
    public int BytesReadPerElement { get; }

    /// <summary>Bytes written per element and step with float32 storage (p and every state the rule writes).</summary>
    public int BytesWrittenPerElement { get; }

    /// <summary>The index of the hyperparameter called <paramref name="name"/>, or −1.</summary>
    public int IndexOfHyperparameter(string name)
    {
        for (int i = 0; i < Hyperparameters.Count; i++)
        {
            if (string.Equals(Hyperparameters[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>The index of the state buffer called <paramref name="name"/>, or −1.</summary>
    public int IndexOfState(string name)
    {
        for (int i = 0; i < States.Count; i++)
        {
            if (string.Equals(States[i].Name, name, StringComparison.Ordinal))
            {
                return i;
            }
        }

        return -1;
    }
}
