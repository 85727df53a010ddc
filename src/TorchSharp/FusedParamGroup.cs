using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using TorchSharp.Modules;

namespace OptGen.TorchSharp;

/// <summary>
/// A parameter group of a <see cref="FusedOptimizer{TOptimizer}"/>: its parameters and the hyperparameters it sets
/// for itself (any hyperparameter of the rule, by its OptGen property name, e.g. <c>"WeightDecay"</c>); the others
/// take the optimizer's values. Its learning rate is what TorchSharp's schedulers drive.
/// </summary>
public sealed class FusedParamGroup : ParamGroup<FusedOptions>
{
    /// <summary>A group over <paramref name="parameters"/> with its own <paramref name="hyperparameters"/> (none: the optimizer's).</summary>
    public FusedParamGroup(IEnumerable<Parameter> parameters, IReadOnlyDictionary<string, double>? hyperparameters = null)
        : this(Named(parameters).ToArray(), hyperparameters)
    {
    }

    /// <summary>A group over named parameters (<c>module.named_parameters()</c>; the names appear in error messages).</summary>
    public FusedParamGroup(IEnumerable<(string name, Parameter parameter)> parameters, IReadOnlyDictionary<string, double>? hyperparameters = null)
        : this(parameters?.Select(p => ((string?)p.name, p.parameter)).ToArray() ?? throw new ArgumentNullException(nameof(parameters)), hyperparameters)
    {
    }

    private FusedParamGroup((string? Name, Parameter Parameter)[] members, IReadOnlyDictionary<string, double>? hyperparameters)
    {
        Members = members;
        Parameters = Members.Select(m => m.Parameter).ToArray();
        Options = new FusedOptions(hyperparameters);
    }

    internal (string? Name, Parameter Parameter)[] Members { get; }

    private static IEnumerable<(string? Name, Parameter Parameter)> Named(IEnumerable<Parameter> parameters) =>
        parameters?.Select(p => ((string?)null, p)) ?? throw new ArgumentNullException(nameof(parameters));
}

/// <summary>
/// A parameter group's hyperparameters. Before the group joins an optimizer they are the values it asks for; after,
/// the indexer reads and writes OptGen's group directly. <see cref="OptimizerOptions.LearningRate"/> is TorchSharp's
/// view of the rule's <c>LearningRate</c> (what schedulers set): it goes into OptGen's group before every step and
/// comes back after it (OptGen schedules, checkpoints).
/// </summary>
public sealed class FusedOptions : OptimizerOptions
{
    private const string LearningRateName = "LearningRate";

    private readonly Dictionary<string, double> _requested;
    private ParameterGroup? _group;
    private Optimizer? _optimizer;
    private bool _hasLearningRate;

    // The learning rate both sides agreed on at the last exchange: a change on the TorchSharp side (a scheduler) goes
    // into OptGen's group, and a change made on OptGen's group directly is not overwritten by a stale value.
    private double _exchanged;

    internal FusedOptions(IReadOnlyDictionary<string, double>? hyperparameters)
    {
        _requested = hyperparameters is null ? [] : new Dictionary<string, double>(hyperparameters);
    }

    internal bool IsBound => _group is not null;

    /// <summary>A hyperparameter of this group by its OptGen property name.</summary>
    /// <exception cref="ArgumentException">The rule has no such hyperparameter (once the group belongs to an optimizer).</exception>
    /// <exception cref="ArgumentOutOfRangeException">The value is out of the hyperparameter's range.</exception>
    public double this[string hyperparameter]
    {
        get
        {
            if (_group is null)
            {
                return _requested[hyperparameter];
            }

            if (hyperparameter == LearningRateName && _hasLearningRate)
            {
                return LearningRate!.Value;
            }

            return _group[hyperparameter];
        }

        set
        {
            if (_group is null)
            {
                _requested[hyperparameter] = value;
                return;
            }

            _group[hyperparameter] = value;
            if (hyperparameter == LearningRateName)
            {
                LearningRate = _exchanged = value;
            }
        }
    }

    /// <summary>Checks the requested names and values against <paramref name="optimizer"/>'s rule before anything is set.</summary>
    internal void CheckNames(Optimizer optimizer)
    {
        foreach ((string name, double value) in Requested())
        {
            Check(optimizer, name, value);
        }
    }

    /// <summary>Sets several hyperparameters of the bound group, all checked before any is set (e.g. both betas).</summary>
    /// <exception cref="ArgumentException">The rule has no such hyperparameter; nothing is set.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of its range; nothing is set.</exception>
    internal void Set(params ReadOnlySpan<(string Name, double Value)> values)
    {
        Optimizer optimizer = _optimizer ?? throw new InvalidOperationException("The parameter group does not belong to an optimizer.");
        foreach ((string name, double value) in values)
        {
            Check(optimizer, name, value);
        }

        foreach ((string name, double value) in values)
        {
            this[name] = value;
        }
    }

    /// <summary>The one check of a group hyperparameter by name: the rule has it and the value is in its range.</summary>
    private static void Check(Optimizer optimizer, string name, double value)
    {
        int index = optimizer.Descriptor.IndexOfHyperparameter(name);
        if (index < 0)
        {
            throw new ArgumentException($"The rule '{optimizer.Descriptor.Name}' has no hyperparameter '{name}'.", nameof(name));
        }

        optimizer.ThrowIfRejected(index, value);
    }

    /// <summary>Joins OptGen's group: sets the requested values there, then mirrors its learning rate.</summary>
    internal void Bind(Optimizer optimizer, ParameterGroup group)
    {
        foreach ((string name, double value) in Requested())
        {
            group[name] = value;
        }

        _group = group;
        _optimizer = optimizer;
        _hasLearningRate = optimizer.Descriptor.IndexOfHyperparameter(LearningRateName) >= 0;
        LearningRate = _exchanged = _hasLearningRate ? group[LearningRateName] : 0;
        InitialLearningRate = LearningRate.Value;
    }

    /// <summary>TorchSharp's learning rate into OptGen's group, when it changed on the TorchSharp side since the last exchange.</summary>
    internal void PushLearningRate()
    {
        double lr = LearningRate ?? throw new InvalidOperationException("A parameter group's LearningRate was set to null.");
        if (!_hasLearningRate)
        {
            if (lr != 0)
            {
                throw new InvalidOperationException("This rule has no LearningRate hyperparameter: a learning-rate scheduler cannot drive it (use OptGen's Schedule on its own hyperparameters).");
            }

            return;
        }

        if (lr != _exchanged)
        {
            _group![LearningRateName] = lr;
            _exchanged = lr;
        }
    }

    /// <summary>OptGen's learning rate back into <see cref="OptimizerOptions.LearningRate"/>.</summary>
    internal void PullLearningRate()
    {
        if (_hasLearningRate)
        {
            LearningRate = _exchanged = _group![LearningRateName];
        }
    }

    /// <summary>This group's values as a record (the rule's hyperparameters in descriptor order and its carried scalars).</summary>
    internal GroupRecord Record()
    {
        ParameterGroup group = _group ?? throw new InvalidOperationException("The parameter group does not belong to an optimizer.");
        Optimizer optimizer = _optimizer!;
        OptimizerDescriptor d = optimizer.Descriptor;
        PushLearningRate();
        return new GroupRecord(
            InitialLearningRate,
            LearningRate!.Value,
            d.Name,
            d.RuleId,
            d.Hyperparameters.Select(h => h.Name).ToArray(),
            d.Hyperparameters.Select(h => group[h.Name]).ToArray(),
            Enumerable.Range(0, d.HostStates.Count).Select(i => optimizer.HostStateOf(group.Index, i)).ToArray(),
            optimizer.BatchSize,
            optimizer.StatePrecisionOf(group.Index));
    }

    /// <summary>Sets the learning rates from a record (already checked).</summary>
    internal void SetLearningRates(double initial, double current)
    {
        InitialLearningRate = initial;
        LearningRate = _exchanged = current;
    }

    /// <summary>Writes the base options (initial and current learning rate), then the rule, every hyperparameter and carried scalar, the batch size and the state precision.</summary>
    public override void SaveStateDict(BinaryWriter writer)
    {
        ArgumentNullException.ThrowIfNull(writer);
        Record().Write(writer);
    }

    /// <summary>Reads what <see cref="SaveStateDict(BinaryWriter)"/> wrote and applies it to this group (checked first).</summary>
    /// <exception cref="InvalidDataException">The record is for another rule or out of range; nothing is set.</exception>
    public override void LoadStateDict(BinaryReader reader)
    {
        ArgumentNullException.ThrowIfNull(reader);
        ParameterGroup group = _group ?? throw new InvalidOperationException("The parameter group does not belong to an optimizer.");
        Apply(GroupRecord.Read(reader, _optimizer!));
    }

    /// <summary>Takes another <see cref="FusedOptions"/>' values (same rule).</summary>
    /// <exception cref="ArgumentException"><paramref name="source"/> is not a <see cref="FusedOptions"/> of the same rule; nothing is set.</exception>
    public override void LoadStateDict(OptimizerOptions source)
    {
        ArgumentNullException.ThrowIfNull(source);
        Apply(source is FusedOptions options ? options.Record() : throw new ArgumentException($"Expected FusedOptions, got {source.GetType().Name}.", nameof(source)));
    }

    private void Apply(GroupRecord record)
    {
        ParameterGroup group = _group ?? throw new InvalidOperationException("The parameter group does not belong to an optimizer.");
        Optimizer optimizer = _optimizer!;
        record.ThrowIfMismatched(optimizer, group.Index);
        double[][] host = Enumerable.Range(0, optimizer.Layout.GroupCount)
            .Select(k => k == group.Index ? record.HostState : Enumerable.Range(0, optimizer.Descriptor.HostStates.Count).Select(i => optimizer.HostStateOf(k, i)).ToArray())
            .ToArray();
        optimizer.ThrowIfBadScalars(optimizer.StepCount, host);
        record.Apply(optimizer, this);
        optimizer.ImportScalars(optimizer.StepCount, host);
    }

    private IEnumerable<(string Name, double Value)> Requested()
    {
        foreach (KeyValuePair<string, double> pair in _requested)
        {
            yield return (pair.Key, pair.Value);
        }

        if (LearningRate is { } lr && !_requested.ContainsKey(LearningRateName))
        {
            yield return (LearningRateName, lr);
        }
    }
}
