using System;
using System.Collections.Generic;
using System.Linq;

namespace OptGen;

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

    /// <summary>Throws the setters' error when <paramref name="value"/> is not accepted.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is out of range; named after the hyperparameter.</exception>
    internal void ThrowIfRejected(double value)
    {
        if (!Accepts(value))
        {
            throw new ArgumentOutOfRangeException(Name, value, $"{Label} must be {RangeText}.");
        }
    }
}

/// <summary>One per-element state buffer of a rule.</summary>
/// <param name="Name">The buffer's name, e.g. <c>FirstMoment</c>.</param>
/// <param name="Symbol">The symbol in the update rule, e.g. m.</param>
/// <param name="InitialValueHyperparameter">The index of the hyperparameter holding the buffer's initial value, or −1 for zero.</param>
/// <param name="IsNonNegative">
/// Whether the buffer never holds a negative value (a second moment, a sum of squares, a running maximum of them):
/// decided by the generator from the rule (or the declaration's override). Blockwise-quantized state stores such a
/// buffer with the unsigned code map, the others with the signed one.
/// </param>
public sealed record StateDescriptor(string Name, string Symbol, int InitialValueHyperparameter = -1, bool IsNonNegative = false);

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
        HostStateDescriptor[]? hostStates = null,
        string[]? inputs = null)
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
        Inputs = inputs ?? [];
    }

    /// <summary>
    /// The per-element inputs the rule reads beside the gradient, each passed to <c>Step</c> (empty for most rules):
    /// <c>"PerExampleSquares"</c>, the batch mean of per-example squared gradients.
    /// </summary>
    public IReadOnlyList<string> Inputs { get; }

    /// <summary>Whether <c>Step</c> needs the batch mean of per-example squared gradients beside the gradient.</summary>
    public bool ReadsPerExampleSquares => Inputs.Contains("PerExampleSquares");

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

    /// <summary>
    /// Bytes read per element and step with the state stored as <paramref name="precision"/>: p and g as float32, and
    /// each state buffer the rule reads in its stored form (8-bit blockwise: 1 byte plus a float32 absmax per 256
    /// values; 4-bit: half a byte plus an absmax per 128). Adam: 16 (float32), 12 (bfloat16), 10.03 (8-bit), 9.06 (4-bit).
    /// Tensors below <see cref="Optimizer.BlockwiseThreshold"/> keep float32 state and move the float32 bytes.
    /// </summary>
    public double BytesReadPerElementWith(StatePrecision precision) =>
        StateTraffic.Read((BytesReadPerElement / sizeof(float)) - 2 - Inputs.Count, BitsOf(precision), Inputs.Count);

    /// <summary>Bytes written per element and step with the state stored as <paramref name="precision"/> (Adam: 12, 8, 6.03, 5.06).</summary>
    public double BytesWrittenPerElementWith(StatePrecision precision) =>
        StateTraffic.Written((BytesWrittenPerElement / sizeof(float)) - 1, BitsOf(precision));

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

    private static int BitsOf(StatePrecision precision) => precision switch
    {
        StatePrecision.BFloat16 => 16,
        StatePrecision.Int8Blockwise => 8,
        StatePrecision.Int4Blockwise => 4,
        _ => 32,
    };
}
