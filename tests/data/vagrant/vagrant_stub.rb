# A stand-in for Vagrant's configuration API: `ruby -r ./vagrant_stub.rb Vagrantfile` evaluates a
# Vagrantfile without Vagrant and prints, as JSON, every setting and call it makes. Attribute
# writes (`vm.box = ...`) become keys, calls with arguments (`vm.network "private_network", ...`)
# become lists of {args, options, block}, and blocks are evaluated with a fresh recorder (a
# provider block's `override` gets one too).
require "json"

class Recorder
  def initialize
    @data = {}
  end

  def method_missing(name, *args, **options, &block)
    key = name.to_s
    if key.end_with?("=")
      @data[key.chomp("=")] = args.first
      return args.first
    end
    if args.empty? && options.empty? && block.nil?
      return (@data[key] ||= Recorder.new)
    end
    call = { "args" => args, "options" => options }
    if block
      inner = Recorder.new
      block.call(inner, Recorder.new)
      call["block"] = inner
    end
    (@data[key] ||= []) << call
    nil
  end

  def respond_to_missing?(_name, _include_private = false)
    true
  end

  def to_json(*state)
    @data.to_json(*state)
  end
end

module Vagrant
  def self.configure(version)
    config = Recorder.new
    yield config
    puts JSON.generate({ "version" => version, "config" => config })
  end
end
