using System;

namespace OptGen;

// The expression form of an update rule, for rules the building-block attributes cannot express. See
// docs/expressions.md for the language. An [Optimizer] class uses either these attributes or the building blocks,
// never both.

/// <summary>
/// Declares a per-element state buffer of an expression rule, e.g. <c>[State("m")]</c>. It starts at 0, keeps its
/// value between steps, and is named by its symbol in <see cref="UpdateAttribute"/> statements.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class StateAttribute : Attribute
{
    /// <summary>Declares a state buffer.</summary>
    /// <param name="symbol">Its identifier in the statements: a letter followed by letters or digits.</param>
    public StateAttribute(string symbol) => Symbol = symbol;

    /// <summary>The identifier in the statements.</summary>
    public string Symbol { get; }

    /// <summary>The read-only span property that exposes the buffer; defaults to the symbol with a capital first letter.</summary>
    public string? Name { get; set; }
}

/// <summary>
/// Declares a hyperparameter of an expression rule: a settable <c>double</c> property with a default, validated
/// when set (finite by default), e.g. <c>[Hyperparameter("Beta1", 0.9, Range = HyperparameterRange.UnitInterval)]</c>.
/// Name the step size <c>LearningRate</c> so that schedulers find it.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class HyperparameterAttribute : Attribute
{
    /// <summary>Declares a hyperparameter.</summary>
    /// <param name="name">The property name, also its identifier in expressions.</param>
    /// <param name="defaultValue">The default value, which must be in <see cref="Range"/>.</param>
    public HyperparameterAttribute(string name, double defaultValue)
    {
        Name = name;
        DefaultValue = defaultValue;
    }

    /// <summary>The property name.</summary>
    public string Name { get; }

    /// <summary>The default value.</summary>
    public double DefaultValue { get; }

    /// <summary>The values the property accepts (default: any finite value).</summary>
    public HyperparameterRange Range { get; set; }
}

/// <summary>
/// Declares a per-step scalar of an expression rule, computed once per step on the host in double precision from
/// <c>t</c> (1, 2, …), the hyperparameters and earlier step scalars, e.g. <c>[StepScalar("bc1", "1 - pow(Beta1, t)")]</c>.
/// Host expressions may also use <c>pow</c>.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class StepScalarAttribute : Attribute
{
    /// <summary>Declares a step scalar.</summary>
    /// <param name="name">Its identifier in later expressions.</param>
    /// <param name="expression">Its value.</param>
    public StepScalarAttribute(string name, string expression)
    {
        Name = name;
        Expression = expression;
    }

    /// <summary>The identifier.</summary>
    public string Name { get; }

    /// <summary>The expression.</summary>
    public string Expression { get; }
}

/// <summary>
/// One per-element statement of an expression rule, run in declaration order in float32 for every element:
/// <c>p = …</c>, <c>state = …</c>, <c>let local = …</c> or <c>local = …</c>, e.g. <c>[Update("m = lerp(m, g, 1 - Beta2)")]</c>.
/// The gradient <c>g</c> is read-only.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class UpdateAttribute : Attribute
{
    /// <summary>Declares a statement.</summary>
    /// <param name="statement">The statement.</param>
    public UpdateAttribute(string statement) => Statement = statement;

    /// <summary>The statement.</summary>
    public string Statement { get; }
}

/// <summary>
/// The state precision a newly created optimizer starts with, e.g. <c>[DefaultStatePrecision(StatePrecision.Int8Blockwise)]</c>
/// (any rule, attribute or expression). The constructors call <see cref="Optimizer.ChangeStatePrecision"/> with it;
/// change it at run time the same way.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class DefaultStatePrecisionAttribute : Attribute
{
    /// <summary>Declares the state precision of new instances.</summary>
    /// <param name="precision">A defined <see cref="OptGen.StatePrecision"/>.</param>
    public DefaultStatePrecisionAttribute(StatePrecision precision) => Precision = precision;

    /// <summary>The state precision of new instances.</summary>
    public StatePrecision Precision { get; }
}

/// <summary>
/// Overrides whether a state buffer counts as never negative, which picks its code map in 8-bit and 4-bit blockwise
/// state (unsigned for ≥ 0, signed otherwise; <see cref="StateDescriptor.IsNonNegative"/>). The generator proves it
/// from the rule by default; override it when the proof cannot see it (<c>true</c>) or to keep the signed map (<c>false</c>),
/// e.g. <c>[NonNegativeState("v")]</c>. Naming no state of the rule is OPTG0200.
/// </summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Interface, AllowMultiple = true, Inherited = false)]
public sealed class NonNegativeStateAttribute : Attribute
{
    /// <summary>Declares the buffer's sign.</summary>
    /// <param name="state">The buffer's symbol (<c>v</c>) or property name (<c>SecondMoment</c>).</param>
    /// <param name="nonNegative">Whether it never holds a negative value.</param>
    public NonNegativeStateAttribute(string state, bool nonNegative = true)
    {
        State = state;
        NonNegative = nonNegative;
    }

    /// <summary>The buffer's symbol or property name.</summary>
    public string State { get; }

    /// <summary>Whether it never holds a negative value.</summary>
    public bool NonNegative { get; }
}
