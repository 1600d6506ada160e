"""Renderers: typed trees and results -> text for people and programs."""
